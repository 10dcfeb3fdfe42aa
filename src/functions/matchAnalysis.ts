import type { InvocationContext } from '@azure/functions';
import { UPLOAD_COMPLETED } from '../engine/index.js';
import { runMatchAnalysis } from '../engine/matchAnalysis.js';
import type { AppClients } from '../composition.js';

interface CloudEventLike {
  id?: unknown;
  type?: unknown;
  data?: { uploadId?: unknown; activated?: unknown };
}

/**
 * Downstream match analysis, fed by upload events on Event Hubs (consumer group match-analysis).
 * Runs are keyed by event id, so a redelivered batch (the trigger is at-least-once) changes nothing.
 * Throwing makes the host deliver the batch again from the last checkpoint.
 */
export function makeMatchAnalysis({ db }: Pick<AppClients, 'db'>) {
  return async function matchAnalysis(messages: unknown[], context: InvocationContext): Promise<void> {
    const pool = await db();
    let runs = 0;
    for (const message of messages) {
      const event = (typeof message === 'string' ? JSON.parse(message) : message) as CloudEventLike;
      if (event.type !== UPLOAD_COMPLETED || typeof event.id !== 'string' || typeof event.data?.uploadId !== 'string') continue;
      if (event.data.activated === false) continue;
      await runMatchAnalysis(pool, event.id, event.data.uploadId);
      runs++;
    }
    if (runs > 0) context.log(`match analysis: ${runs} run(s) for ${messages.length} event(s)`);
  };
}
