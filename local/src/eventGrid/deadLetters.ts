import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import type { DeadLetter, GridEvent } from './delivery.js';
import type { LocalSubscription } from './subscriptions.js';

/**
 * Writes given-up events where Event Grid does: one blob per event in the subscription's dead-letter container,
 * named `<TOPIC>/<SUBSCRIPTION>/<y>/<m>/<d>/<h>/<guid>.json` (upper-case names, UTC date and hour without zero
 * padding), holding a JSON array of the event with its dead-letter reason, attempts and last outcome.
 */
export function deadLetterWriter(subscriptions: LocalSubscription[], connectionString: (settingName: string) => string, topicName: string) {
  return async (subscriptionName: string, event: GridEvent, deadLetter: DeadLetter): Promise<void> => {
    const subscription = subscriptions.find((s) => s.name === subscriptionName);
    if (!subscription?.deadLetter) return; // no destination: Event Grid drops the event
    const container = BlobServiceClient.fromConnectionString(connectionString(subscription.deadLetter.storageConnection))
      .getContainerClient(subscription.deadLetter.container);
    await container.createIfNotExists();
    const now = new Date();
    const name = [topicName.toUpperCase(), subscription.name.toUpperCase(), now.getUTCFullYear(), now.getUTCMonth() + 1, now.getUTCDate(), now.getUTCHours(), `${randomUUID()}.json`].join('/');
    const body = JSON.stringify([{ ...event, ...deadLetter }]);
    await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  };
}
