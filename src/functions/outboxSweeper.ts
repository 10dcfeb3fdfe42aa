import type { InvocationContext, Timer } from '@azure/functions';
import type { AppClients } from '../composition.js';

/** Sends outbox events that an upload could not deliver itself (Event Hubs was down). */
export function makeOutboxSweeper({ publishPendingEvents }: Pick<AppClients, 'publishPendingEvents'>) {
  return async function outboxSweeper(_timer: Timer, context: InvocationContext): Promise<void> {
    try {
      const sent = await publishPendingEvents();
      if (sent > 0) context.log(`outbox sweeper: ${sent} event(s) delivered`);
    } catch (error) {
      context.warn(`outbox sweeper: delivery deferred: ${(error as Error).message}`);
    }
  };
}
