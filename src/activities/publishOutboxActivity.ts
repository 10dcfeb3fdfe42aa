import type { InvocationContext } from '@azure/functions';
import { pendingOutboxCount } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import type { PublishResult, UploadRef } from '../ingestContracts.js';

/** Sends unsent outbox events; never fails the upload when Event Hubs is down. */
export function makePublishOutboxActivity({ db, publishPendingEvents }: Pick<AppClients, 'db' | 'publishPendingEvents'>) {
  return async function publishOutboxActivity(_input: UploadRef, context: InvocationContext): Promise<PublishResult> {
    const pool = await db();
    try {
      const published = await publishPendingEvents();
      return { published, pending: await pendingOutboxCount(pool) };
    } catch (error) {
      context.warn(`outbox delivery deferred: ${(error as Error).message}`);
      return { published: 0, pending: await pendingOutboxCount(pool) };
    }
  };
}
