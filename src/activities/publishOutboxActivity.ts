import type { InvocationContext } from '@azure/functions';
import { pendingOutboxCount } from '../engine/outboxDelivery.js';
import { publishPendingEvents } from '../adapters/eventPublisher.js';
import { db, eventProducer } from '../adapters/runtime.js';
import type { PublishResult, UploadRef } from '../ingestContracts.js';

/** Sends unsent outbox events; never fails the upload when Event Hubs is down. */
export async function publishOutboxActivity(_input: UploadRef, context: InvocationContext): Promise<PublishResult> {
  const pool = await db();
  try {
    const published = await publishPendingEvents(pool, eventProducer);
    return { published, pending: await pendingOutboxCount(pool) };
  } catch (error) {
    context.warn(`outbox delivery deferred: ${(error as Error).message}`);
    return { published: 0, pending: await pendingOutboxCount(pool) };
  }
}
