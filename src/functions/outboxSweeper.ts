import type { InvocationContext, Timer } from '@azure/functions';
import type { AppClients } from '../composition.js';
import { isProbeTick, probeOperations } from './operationsProbe.js';

/**
 * Sends outbox events that an upload could not deliver itself (Event Hubs was down); every five minutes it also
 * probes for what the operators' alerts watch (operationsProbe.ts).
 */
export function makeOutboxSweeper({ publishPendingEvents, db }: Pick<AppClients, 'publishPendingEvents' | 'db'>) {
  return async function outboxSweeper(_timer: Timer, context: InvocationContext): Promise<void> {
    // A probe that cannot reach the database must not hold up the delivery below (which reports its own failure).
    if (isProbeTick(new Date())) await probeOperations(await db(), context).catch((error: Error) => context.warn(`operations probe deferred: ${error.message}`));
    try {
      const sent = await publishPendingEvents();
      if (sent > 0) context.log(`outbox sweeper: ${sent} event(s) delivered`);
    } catch (error) {
      context.warn(`outbox sweeper: delivery deferred: ${(error as Error).message}`);
    }
  };
}
