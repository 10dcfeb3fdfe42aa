import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData, type Subscription } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { DEV_ACCOUNT, DEV_ACCOUNT_KEY } from '../azurite.js';
import type { DispatcherContext, RunningDispatcher } from '../host/dispatchers.js';
import type { RegisteredFunction } from '../host/registry.js';

/** Where the Functions runtime keeps Event Hubs checkpoints and ownership, in AzureWebJobsStorage. */
const CHECKPOINT_CONTAINER = 'azure-webjobs-eventhub';
const MAX_BATCH = 100;
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Runs `app.eventHub` functions like the Functions runtime: the real EventHubConsumerClient, load-balanced with
 * the blob checkpoint store, a checkpoint only after the function returns. A function that throws gets the same
 * batch again (with backoff) before anything later on that partition, so processing is at-least-once and ordered.
 */
export async function eventHubTriggerDispatcher(fn: RegisteredFunction, { invoke, logger, env }: DispatcherContext): Promise<RunningDispatcher> {
  const binding = fn.trigger as { eventHubName?: string; consumerGroup?: string; connection?: string; cardinality?: string };
  const connectionString = env[binding.connection ?? ''];
  const storage = env.AzureWebJobsStorage;
  if (!binding.eventHubName || !connectionString || !storage) {
    throw new Error(`function ${fn.name}: eventHubTrigger needs eventHubName, the ${binding.connection ?? '(connection)'} setting and AzureWebJobsStorage`);
  }
  const container = new ContainerClient(storage.includes('UseDevelopmentStorage=true') ? devStorage() : storage, CHECKPOINT_CONTAINER);
  await container.createIfNotExists();
  const consumer = new EventHubConsumerClient(
    binding.consumerGroup ?? '$Default', connectionString, binding.eventHubName, new BlobCheckpointStore(container),
  );
  const many = (binding.cardinality ?? 'many').toLowerCase() === 'many';
  let stopping = false;
  const inFlight = new Set<Promise<void>>();

  const deliver = async (events: ReceivedEventData[]): Promise<void> => {
    for (let attempt = 1; !stopping; attempt++) {
      const failure = many ? await invokeOnce(events) : await invokeEach(events);
      if (!failure) return;
      logger.warn('event hub function failed; the batch will be delivered again', { function: fn.name, attempt, error: failure });
      await new Promise((done) => setTimeout(done, Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** (attempt - 1))));
    }
    throw new Error('stopping: batch left for the next owner of the partition');
  };
  const invokeOnce = async (events: ReceivedEventData[]) => {
    const result = await invoke({
      trigger: { json: JSON.stringify(events.map((e) => e.body)) },
      triggerMetadata: metadata(events),
    });
    return result.error === undefined ? undefined : String((result.error as Error)?.message ?? result.error);
  };
  const invokeEach = async (events: ReceivedEventData[]) => {
    for (const event of events) {
      const result = await invoke({ trigger: { json: JSON.stringify(event.body) }, triggerMetadata: metadata([event]) });
      if (result.error !== undefined) return String((result.error as Error)?.message ?? result.error);
    }
    return undefined;
  };

  const subscription: Subscription = consumer.subscribe(
    {
      processEvents: async (events, context) => {
        if (events.length === 0 || stopping) return;
        const work = deliver(events).then(() => context.updateCheckpoint(events[events.length - 1]!));
        inFlight.add(work);
        try {
          await work;
        } finally {
          inFlight.delete(work);
        }
      },
      processError: async (error) => {
        if (!stopping) logger.warn('event hub consumer error', { function: fn.name, error: error.message });
      },
    },
    { startPosition: earliestEventPosition, maxBatchSize: MAX_BATCH, maxWaitTimeInSeconds: 1 },
  );

  return {
    async stop() {
      stopping = true;
      await Promise.allSettled([...inFlight]);
      await subscription.close();
      await consumer.close();
    },
  };
}

/** The trigger metadata the Functions runtime passes for a batch (arrays, one entry per event). */
function metadata(events: ReceivedEventData[]) {
  return {
    sequenceNumberArray: { json: JSON.stringify(events.map((e) => e.sequenceNumber)) },
    offsetArray: { json: JSON.stringify(events.map((e) => e.offset)) },
    enqueuedTimeUtcArray: { json: JSON.stringify(events.map((e) => e.enqueuedTimeUtc.toISOString())) },
    partitionKeyArray: { json: JSON.stringify(events.map((e) => e.partitionKey ?? null)) },
  };
}

/** `UseDevelopmentStorage=true`: Azurite's well-known account on its default port. */
function devStorage(): string {
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:10000/${DEV_ACCOUNT};`;
}
