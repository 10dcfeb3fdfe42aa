import { randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { BlobServiceClient, RestError, type ContainerClient } from '@azure/storage-blob';
import type { BlobCommit } from './commitJournal.js';
import { containerOf, matches, retryPolicyOf, type LocalSubscription } from './subscriptions.js';
import { EventGridDelivery } from './delivery.js';

export interface BlobCreatedSourceOptions {
  subscriptions: LocalSubscription[];
  /** Resolves a subscription's `storageConnection` app setting to a connection string. */
  connectionString: (settingName: string) => string;
  delivery: EventGridDelivery;
  /**
   * The stack's Azurite's commit journal (`RunningAzurite.commitJournal`): each committed blob version becomes one
   * event, as on Azure, however quickly it is overwritten. Without it (storage that is not the stack's Azurite),
   * blobs are listed every `pollIntervalMs` and only the newest version of each is seen.
   */
  commitJournal?: string;
  pollIntervalMs?: number;
}

type BlobVersion = Omit<BlobCommit, 'container' | 'requestId'> & { contentLength: number };

/**
 * Event Grid's storage system topic, on this machine: each committed blob version becomes one
 * `Microsoft.Storage.BlobCreated` event. Blobs present at start are announced too: delivery is at-least-once and
 * the starter is idempotent.
 */
export function startBlobCreatedSource(options: BlobCreatedSourceOptions): { stop(): Promise<void> } {
  const seen = new Map<string, string>();
  const interval = options.pollIntervalMs ?? (options.commitJournal ? 100 : 500);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let wake: (() => void) | undefined;

  const watched = options.subscriptions.map((subscription) => {
    const service = BlobServiceClient.fromConnectionString(options.connectionString(subscription.storageConnection));
    return { subscription, service, container: service.getContainerClient(containerOf(subscription)) };
  });

  const announce = (subscription: LocalSubscription, container: ContainerClient, accountName: string, blob: BlobVersion) => {
    const event = blobCreatedEvent(container, accountName, blob);
    if (!matches(subscription, event.eventType, event.subject)) return;
    options.delivery.deliver({ subscription: subscription.name, functionName: subscription.functionName, policy: retryPolicyOf(subscription) }, event);
  };

  /** Every blob's newest version not announced yet (all of them at start). */
  const scan = async () => {
    for (const { subscription, service, container } of watched) {
      if (!(await container.exists())) continue;
      for await (const blob of container.listBlobsFlat()) {
        const key = `${subscription.name}/${blob.name}`;
        const etag = (blob.properties.etag ?? '').replace(/^"|"$/g, '');
        if (seen.get(key) === etag) continue;
        seen.set(key, etag);
        announce(subscription, container, service.accountName, {
          api: 'PutBlob', blob: blob.name, etag, lastModified: (blob.properties.lastModified ?? new Date()).toISOString(),
          contentType: blob.properties.contentType ?? 'application/octet-stream', contentLength: blob.properties.contentLength ?? 0, blobType: 'BlockBlob',
        });
      }
    }
  };

  /** Announces the commits journalled since `offset`; returns the offset of the first line not complete yet. */
  const readJournal = async (path: string, offset: number): Promise<number> => {
    const { commits, next } = await journalledSince(path, offset);
    for (const commit of commits) {
      for (const { subscription, service, container } of watched) {
        if (container.containerName !== commit.container) continue;
        // Already announced by the listing at start.
        if (seen.get(`${subscription.name}/${commit.blob}`) === commit.etag) continue;
        announce(subscription, container, service.accountName, { ...commit, contentLength: commit.contentLength ?? (await lengthOf(container, commit)) });
      }
    }
    return next;
  };

  const poll = async () => {
    const journal = options.commitJournal;
    // The journal's end is taken before the listing: a commit in between is in both, and announced once.
    let offset = journal ? (await stat(journal)).size : 0;
    let listed = false;
    if (journal) watcher = watch(journal, () => wake?.());
    while (!stopped) {
      try {
        if (!listed || !journal) await scan();
        listed = true;
        if (journal) offset = await readJournal(journal, offset);
      } catch (error) {
        // Storage briefly unreachable: the next round catches up, as Event Grid would after an outage. Once
        // stopping, storage going away is expected.
        if (!stopped) process.emitWarning(`local Event Grid: blob scan failed: ${(error as Error).message}`);
      }
      await new Promise<void>((done) => {
        wake = done;
        timer = setTimeout(done, interval);
      });
    }
  };
  const running = poll();

  return {
    async stop() {
      stopped = true;
      watcher?.close();
      if (timer) clearTimeout(timer);
      wake?.();
      await running;
      await options.delivery.drain();
    },
  };
}

/** The `Microsoft.Storage.BlobCreated` event of one committed blob version, in Event Grid's schema. */
function blobCreatedEvent(container: ContainerClient, accountName: string, blob: BlobVersion) {
  return {
    id: randomUUID(),
    topic: `/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/${accountName}`,
    subject: `/blobServices/default/containers/${container.containerName}/blobs/${blob.blob}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: blob.lastModified,
    dataVersion: '',
    metadataVersion: '1',
    data: {
      api: blob.api,
      requestId: randomUUID(),
      eTag: blob.etag,
      contentType: blob.contentType,
      contentLength: blob.contentLength,
      blobType: blob.blobType,
      url: container.getBlobClient(blob.blob).url,
      sequencer: blob.etag,
    },
  };
}

/** The commits journalled since `offset`, and the offset of the first line not complete yet. */
async function journalledSince(path: string, offset: number): Promise<{ commits: BlobCommit[]; next: number }> {
  const file = await open(path, 'r');
  let text: string;
  try {
    const { size } = await file.stat();
    if (size <= offset) return { commits: [], next: offset };
    const buffer = Buffer.alloc(size - offset);
    await file.read(buffer, 0, buffer.length, offset);
    text = buffer.toString('utf8');
  } finally {
    await file.close();
  }
  const complete = text.lastIndexOf('\n') + 1;
  const commits = text.slice(0, complete).split('\n').filter((line) => line).map((line) => JSON.parse(line) as BlobCommit);
  return { commits, next: offset + Buffer.byteLength(text.slice(0, complete)) };
}

/**
 * A committed version's size, read back by its eTag (Put Block List and Copy Blob do not carry it). A version
 * overwritten meanwhile is gone from Azurite (it keeps no versions): 0, where Azure would report its size; the
 * upload of a version that no longer exists fails either way.
 */
async function lengthOf(container: ContainerClient, commit: BlobCommit): Promise<number> {
  try {
    const properties = await container.getBlobClient(commit.blob).getProperties({ conditions: { ifMatch: `"${commit.etag}"` } });
    return properties.contentLength ?? 0;
  } catch (error) {
    if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 404)) return 0;
    throw error;
  }
}
