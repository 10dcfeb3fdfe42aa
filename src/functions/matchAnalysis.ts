import type { InvocationContext } from '@azure/functions';
import { publishNowOrDefer } from '../adapters/eventPublisher.js';
import { runMatchAnalyses, UPLOAD_COMPLETED, type MatchEvent } from '../engine/index.js';
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
    const events: MatchEvent[] = [];
    for (const message of messages) {
      const event = (typeof message === 'string' ? JSON.parse(message) : message) as CloudEventLike;
      if (event.type !== UPLOAD_COMPLETED || typeof event.id !== 'string' || typeof event.data?.uploadId !== 'string') continue;
      if (event.data.activated === false) continue;
      events.push({ eventId: event.id, uploadId: event.data.uploadId });
    }
    // One batch: runs that lag behind activations find their candidate keys together (see runMatchAnalyses).
    const done = await runMatchAnalyses(pool, events);
    const runs = done.length;
    const evaluated = done.filter((run) => run.computed && run.outcome === 'matched').length;
    if (runs === 0) return;
    context.log(`match analysis: ${runs} run(s) for ${messages.length} event(s), ${evaluated} evaluated`);
    if (evaluated === 0) return;
    await publishNowOrDefer(publishPendingEvents, context, 'match analysis');
  };
}
