import type { InvocationContext, Timer } from '@azure/functions';
import { publishPendingEvents } from '../adapters/eventPublisher.js';
import { db, eventProducer } from '../adapters/runtime.js';

/** Sends outbox events that an upload could not deliver itself (Event Hubs was down). */
export async function outboxSweeper(_timer: Timer, context: InvocationContext): Promise<void> {
  try {
    const sent = await publishPendingEvents(await db(), eventProducer);
    if (sent > 0) context.log(`outbox sweeper: ${sent} event(s) delivered`);
  } catch (error) {
    context.warn(`outbox sweeper: delivery deferred: ${(error as Error).message}`);
  }
}
