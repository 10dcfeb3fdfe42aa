import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { containerOf, matches, type LocalSubscription } from './subscriptions.js';
import { EventGridDelivery } from './delivery.js';

export interface BlobCreatedSourceOptions {
  subscriptions: LocalSubscription[];
  /** Resolves a subscription's `storageConnection` app setting to a connection string. */
  connectionString: (settingName: string) => string;
  delivery: EventGridDelivery;
  pollIntervalMs?: number;
}

/**
 * Event Grid's storage system topic, on this machine: Azurite raises no events, so committed blobs are
 * listed periodically and each new (name, eTag) becomes one `Microsoft.Storage.BlobCreated` event.
 * Blobs present at start are announced too: delivery is at-least-once and the starter is idempotent.
 */
export function startBlobCreatedSource(options: BlobCreatedSourceOptions): { stop(): Promise<void> } {
  const seen = new Map<string, string>();
  const interval = options.pollIntervalMs ?? 500;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const scan = async () => {
    for (const subscription of options.subscriptions) {
      const service = BlobServiceClient.fromConnectionString(options.connectionString(subscription.storageConnection));
      const containerName = containerOf(subscription);
      const container = service.getContainerClient(containerName);
      if (!(await container.exists())) continue;
      for await (const blob of container.listBlobsFlat()) {
        const key = `${subscription.name}/${blob.name}`;
        const etag = (blob.properties.etag ?? '').replace(/^"|"$/g, '');
        if (seen.get(key) === etag) continue;
        seen.set(key, etag);
        const subject = `/blobServices/default/containers/${containerName}/blobs/${blob.name}`;
        if (!matches(subscription, 'Microsoft.Storage.BlobCreated', subject)) continue;
        const url = container.getBlobClient(blob.name).url;
        options.delivery.deliver(subscription.functionName, {
          id: randomUUID(),
          topic: `/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/${service.accountName}`,
          subject,
          eventType: 'Microsoft.Storage.BlobCreated',
          eventTime: (blob.properties.lastModified ?? new Date()).toISOString(),
          dataVersion: '',
          metadataVersion: '1',
          data: {
            api: 'PutBlob',
            requestId: randomUUID(),
            eTag: etag,
            contentType: blob.properties.contentType ?? 'application/octet-stream',
            contentLength: blob.properties.contentLength ?? 0,
            blobType: 'BlockBlob',
            url,
            sequencer: etag,
          },
        });
      }
    }
  };

  const loop = async () => {
    try {
      await scan();
    } catch (error) {
      // Storage briefly unreachable: the next scan catches up, as Event Grid would after an outage. Once
      // stopping, storage going away is expected.
      if (!stopped) process.emitWarning(`local Event Grid: blob scan failed: ${(error as Error).message}`);
    }
    if (!stopped) timer = setTimeout(loop, interval);
  };
  void loop();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await options.delivery.drain();
    },
  };
}
