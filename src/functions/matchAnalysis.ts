import type { InvocationContext } from '@azure/functions';
import { runMatchAnalysis, UPLOAD_COMPLETED } from '../engine/index.js';
import type { AppClients } from '../composition.js';

interface CloudEventLike {
  id?: unknown;
  type?: unknown;
  data?: { uploadId?: unknown; activated?: unknown };
}

/**
 * Downstream match analysis, fed by upload events on Event Hubs (consumer group match-analysis).
 * Runs are keyed by event id, so a redelivered batch (the trigger is at-least-once) changes nothing.
 * Throwing makes the host deliver the batch again from the last checkpoint. The runs' announcements wait in
 * the outbox; they are sent right away, or by the outbox sweeper when Event Hubs is unreachable.
 */
export function makeMatchAnalysis({ db, publishPendingEvents }: Pick<AppClients, 'db' | 'publishPendingEvents'>) {
  return async function matchAnalysis(messages: unknown[], context: InvocationContext): Promise<void> {
    const pool = await db();
    let runs = 0;
    let evaluated = 0;
    for (const message of messages) {
      const event = (typeof message === 'string' ? JSON.parse(message) : message) as CloudEventLike;
      if (event.type !== UPLOAD_COMPLETED || typeof event.id !== 'string' || typeof event.data?.uploadId !== 'string') continue;
      if (event.data.activated === false) continue;
      const run = await runMatchAnalysis(pool, event.id, event.data.uploadId);
      runs++;
      if (run.computed && run.outcome === 'matched') evaluated++;
    }
    if (runs === 0) return;
    context.log(`match analysis: ${runs} run(s) for ${messages.length} event(s), ${evaluated} evaluated`);
    if (evaluated === 0) return;
    try {
      await publishPendingEvents();
    } catch (error) {
      context.warn(`match analysis: announcements deferred to the outbox sweeper: ${(error as Error).message}`);
    }
  };
}
