import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../src/azurite.js';
import { deadLetterWriter } from '../../src/eventGrid/deadLetters.js';
import { EventGridDelivery, type DeadLetter } from '../../src/eventGrid/delivery.js';
import type { LocalSubscription } from '../../src/eventGrid/subscriptions.js';
import { startWebhook } from './webhook.js';

const subscription: LocalSubscription = {
  name: 'uploads-to-starter', functionName: 'OnUpload', storageConnection: 'Storage', includedEventTypes: ['Microsoft.Storage.BlobCreated'],
  subjectBeginsWith: '/blobServices/default/containers/uploads/blobs/', subjectEndsWith: '.csv',
  deadLetter: { storageConnection: 'Storage', container: 'eventgrid-deadletter' },
};

let dir: string;
let azurite: RunningAzurite;
let deadLetters: ContainerClient;
let webhook: Server;
let hostUrl: string;
/** What the webhook answers, per event id; how often it was called. */
const answers = new Map<string, number>();
const calls = new Map<string, number>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkflow-deadletter-'));
  azurite = await startAzurite({ location: join(dir, 'azurite') });
  deadLetters = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('eventgrid-deadletter');
  await deadLetters.create(); // as infra/bicep creates it
  ({ server: webhook, hostUrl } = await startWebhook((events) => {
    const [event] = events as Array<{ id: string }>;
    calls.set(event!.id, (calls.get(event!.id) ?? 0) + 1);
    return answers.get(event!.id) ?? 202;
  }));
});
afterAll(async () => {
  webhook?.close();
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Delivers one event the webhook answers `status` to, and returns its dead-letter blob (name and content) once written. */
async function deliverUntilDeadLettered(id: string, status: number, policy: { maxDeliveryAttempts: number; eventTimeToLiveMs: number }, retryDelaysMs = [20, 20, 20]) {
  answers.set(id, status);
  const delivery = new EventGridDelivery({ hostUrl, retryDelaysMs, onDeadLetter: deadLetterWriter([subscription], () => azurite.connectionString, 'st-local') });
  delivery.deliver({ subscription: subscription.name, functionName: subscription.functionName, policy }, { id, subject: `/blobServices/default/containers/uploads/blobs/ca/${id}.csv` });
  const deadline = Date.now() + 20_000;
  for (;;) {
    for await (const blob of deadLetters.listBlobsFlat()) {
      const [event] = JSON.parse((await deadLetters.getBlobClient(blob.name).downloadToBuffer()).toString('utf8')) as Array<{ id: string; subject: string } & DeadLetter>;
      if (event!.id === id) {
        await delivery.drain();
        return { name: blob.name, event: event! };
      }
    }
    if (Date.now() > deadline) throw new Error(`event ${id} was not dead-lettered`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('local Event Grid: retry policy and dead-lettering (the eventgrid-deadlettered alert\'s signal)', () => {
  it('dead-letters an event the endpoint keeps failing after maxDeliveryAttempts, into <TOPIC>/<SUBSCRIPTION>/y/m/d/h/<guid>.json', async () => {
    const { name, event } = await deliverUntilDeadLettered('failing', 500, { maxDeliveryAttempts: 3, eventTimeToLiveMs: 60_000 });
    expect(calls.get('failing')).toBe(3);
    expect(event).toMatchObject({ deadLetterReason: 'MaxDeliveryAttemptsExceeded', deliveryAttempts: 3, lastHttpStatusCode: 500, lastDeliveryOutcome: 'HTTP 500' });
    expect(event.subject).toBe('/blobServices/default/containers/uploads/blobs/ca/failing.csv');
    const now = new Date();
    expect(name).toMatch(new RegExp(`^ST-LOCAL/UPLOADS-TO-STARTER/${now.getUTCFullYear()}/${now.getUTCMonth() + 1}/\\d{1,2}/\\d{1,2}/[0-9a-f-]{36}\\.json$`));
  });

  it('dead-letters at once what retrying cannot fix (400, 401, 403, 413)', async () => {
    const { event } = await deliverUntilDeadLettered('refused', 400, { maxDeliveryAttempts: 30, eventTimeToLiveMs: 60_000 });
    expect(calls.get('refused')).toBe(1);
    expect(event).toMatchObject({ deadLetterReason: 'NonRetriableError', deliveryAttempts: 1, lastHttpStatusCode: 400 });
  });

  it('dead-letters when the next retry would fall past the event time to live, whichever limit comes first', async () => {
    const { event } = await deliverUntilDeadLettered('expired', 503, { maxDeliveryAttempts: 30, eventTimeToLiveMs: 500 }, [200, 400, 800]);
    expect(event).toMatchObject({ deadLetterReason: 'TimeToLiveExceeded', lastHttpStatusCode: 503 });
    expect(event.deliveryAttempts).toBeLessThan(30);
    expect(Date.parse(event.lastDeliveryAttemptTime) - Date.parse(event.publishTime)).toBeLessThan(1_000);
  });
});
