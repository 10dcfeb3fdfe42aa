import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../src/azurite.js';
import { startBlobCreatedSource } from '../../src/eventGrid/blobCreatedSource.js';
import { EventGridDelivery } from '../../src/eventGrid/delivery.js';
import type { LocalSubscription } from '../../src/eventGrid/subscriptions.js';
import { startWebhook } from './webhook.js';

type Delivered = { subject: string; data: { api: string; eTag: string; contentLength: number } };

const subscription: LocalSubscription = {
  name: 'uploads', functionName: 'OnUpload', storageConnection: 'Storage', includedEventTypes: ['Microsoft.Storage.BlobCreated'],
  subjectBeginsWith: '/blobServices/default/containers/uploads/blobs/', subjectEndsWith: '.csv',
};

let dir: string;
let azurite: RunningAzurite;
let uploads: ContainerClient;
let webhook: Server;
let hostUrl: string;
const delivered: Delivered[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkflow-eventgrid-'));
  azurite = await startAzurite({ location: join(dir, 'azurite') });
  uploads = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('uploads');
  await uploads.create();
  // The Functions host's Event Grid webhook, as far as delivery goes: it takes every event.
  ({ server: webhook, hostUrl } = await startWebhook((events) => {
    delivered.push(...(events as Delivered[]));
    return 202;
  }));
});
afterAll(async () => {
  webhook?.close();
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('local Event Grid: BlobCreated from Azurite', () => {
  it('raises one event per committed version, however fast a name is overwritten (Put Blob, Put Block List, Copy Blob)', async () => {
    await uploads.getBlockBlobClient('ca/present.csv').upload('present at start', 16);
    const source = startBlobCreatedSource({
      subscriptions: [subscription], connectionString: () => azurite.connectionString, commitJournal: azurite.commitJournal,
      delivery: new EventGridDelivery({ hostUrl, retryDelaysMs: [100] }),
    });
    try {
      await until('the blob present at start', () => delivered.length === 1);
      expect(delivered[0]).toMatchObject({ subject: '/blobServices/default/containers/uploads/blobs/ca/present.csv', data: { contentLength: 16 } });

      // 200 versions of one name, back to back (the listing every 500 ms saw a handful), some as block lists.
      const blob = uploads.getBlockBlobClient('ca/overwritten.csv');
      const committed: Array<{ eTag: string; api: string; contentLength: number }> = [];
      for (let i = 0; i < 200; i++) {
        const body = `version ${i}\n`.repeat(1 + (i % 5));
        if (i % 4 === 3) {
          const id = Buffer.from(`block-${String(i).padStart(6, '0')}`).toString('base64');
          await blob.stageBlock(id, body, body.length);
          committed.push({ eTag: (await blob.commitBlockList([id])).etag!, api: 'PutBlockList', contentLength: body.length });
        } else {
          committed.push({ eTag: (await blob.upload(body, body.length)).etag!, api: 'PutBlob', contentLength: body.length });
        }
      }
      const copy = await uploads.getBlockBlobClient('ca/copy.csv').beginCopyFromURL(blob.url);
      const copied = await copy.pollUntilDone();
      // A refused conditional write commits nothing.
      await expect(blob.upload('x', 1, { conditions: { ifNoneMatch: '*' } })).rejects.toMatchObject({ statusCode: 409 });
      // Staging a block and writing outside the subscription's filter are not BlobCreated events for it.
      await uploads.getBlockBlobClient('ca/staged-only.csv').stageBlock(Buffer.from('b').toString('base64'), 'b', 1);
      await uploads.getBlockBlobClient('ca/notes.txt').upload('n', 1);

      await until('an event per version', () => delivered.length >= 1 + 200 + 1);
      await new Promise((resolve) => setTimeout(resolve, 500)); // nothing more comes
      const versions = delivered.filter((event) => event.subject.endsWith('/ca/overwritten.csv'));
      expect(versions.map((event) => `"${event.data.eTag}"`)).toEqual(committed.map((c) => c.eTag));
      expect(versions.map((event) => event.data.api)).toEqual(committed.map((c) => c.api));
      // The newest version's size is read back for a block list; every size is the version's own.
      expect(versions.at(-1)!.data.contentLength).toBe(committed.at(-1)!.contentLength);
      expect(versions.filter((event) => event.data.api === 'PutBlob').map((event) => event.data.contentLength))
        .toEqual(committed.filter((c) => c.api === 'PutBlob').map((c) => c.contentLength));
      const copies = delivered.filter((event) => event.subject.endsWith('/ca/copy.csv'));
      expect(copies).toHaveLength(1);
      expect(copies[0]!.data).toMatchObject({ api: 'CopyBlob', eTag: copied.etag!.replace(/"/g, ''), contentLength: committed.at(-1)!.contentLength });
      expect(delivered).toHaveLength(1 + 200 + 1);
    } finally {
      await source.stop();
    }
  });
});
