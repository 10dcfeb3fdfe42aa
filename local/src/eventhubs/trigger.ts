import {
  EventHubConsumerClient,
  earliestEventPosition,
  type LoadBalancingOptions,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';

/** The container the Functions runtime keeps Event Hub checkpoints and ownership in. */
export const CHECKPOINT_CONTAINER = 'azure-webjobs-eventhub';

export interface EventHubTriggerBindings {
  /** Hub name, or `%SETTING%` to read it from an app setting. */
  eventHubName: string;
  consumerGroup?: string;
  /** Name of the app setting holding the Event Hubs connection string. */
  connection: string;
  cardinality?: 'one' | 'many';
}

export type TriggerLog = (event: string, fields?: Record<string, unknown>) => void;

export interface EventHubTriggerOptions {
  functionName: string;
  bindings: EventHubTriggerBindings;
  /** Storage connection string (AzureWebJobsStorage) for checkpoints and partition ownership. */
  checkpointStoreConnectionString: string;
  /** Called with the event body (`one`) or the list of bodies (`many`); resolve to checkpoint. */
  invoke: (input: unknown, triggerMetadata: Record<string, unknown>) => Promise<void>;
  log?: TriggerLog;
  /** App settings the binding expressions resolve against; `process.env` when omitted. */
  settings?: Record<string, string | undefined>;
  /** host.json `extensions.eventHubs.maxEventBatchSize`; 100 by default as in the runtime. */
  maxBatchSize?: number;
  maxWaitTimeInSeconds?: number;
  loadBalancingOptions?: LoadBalancingOptions;
  /** First retry delay after a failed invocation; doubles up to 30 s. */
  retryDelayMs?: number;
}

export interface EventHubTrigger {
  stop(): Promise<void>;
}

const MAX_RETRY_DELAY_MS = 30_000;

function resolveSetting(value: string, settings: Record<string, string | undefined>, what: string): string {
  const match = /^%(.+)%$/.exec(value);
  if (!match?.[1]) return value;
  const resolved = settings[match[1]];
  if (!resolved) throw new Error(`${what}: app setting "${match[1]}" is not set`);
  return resolved;
}

/** Trigger metadata in the shape the Functions Node.js worker passes for Event Hub triggers. */
function metadataFor(events: ReceivedEventData[], context: PartitionContext, many: boolean): Record<string, unknown> {
  const partitionContext = {
    consumerGroup: context.consumerGroup,
    eventHubName: context.eventHubName,
    fullyQualifiedNamespace: context.fullyQualifiedNamespace,
    partitionId: context.partitionId,
  };
  if (!many) {
    const event = events[0]!;
    return {
      partitionContext,
      enqueuedTimeUtc: event.enqueuedTimeUtc.toISOString(),
      sequenceNumber: event.sequenceNumber,
      offset: event.offset,
      partitionKey: event.partitionKey ?? undefined,
      properties: event.properties ?? {},
      systemProperties: event.systemProperties ?? {},
    };
  }
  return {
    partitionContext,
    enqueuedTimeUtcArray: events.map((event) => event.enqueuedTimeUtc.toISOString()),
    sequenceNumberArray: events.map((event) => event.sequenceNumber),
    offsetArray: events.map((event) => event.offset),
    partitionKeyArray: events.map((event) => event.partitionKey ?? null),
    propertiesArray: events.map((event) => event.properties ?? {}),
    systemPropertiesArray: events.map((event) => event.systemProperties ?? {}),
  };
}

/**
 * Runs one `app.eventHub(...)` registration the way the Functions runtime does: a load-balanced
 * EventHubConsumerClient over the blob checkpoint store, invoking the handler per batch (`many`)
 * or per event (`one`) and checkpointing only after the handler resolved. A handler that throws
 * gets the same events again (after a growing delay) and nothing is checkpointed meanwhile, so a
 * host that stops during the retries resumes from the last checkpoint: at-least-once delivery.
 */
export async function startEventHubTrigger(options: EventHubTriggerOptions): Promise<EventHubTrigger> {
  const log = options.log ?? (() => undefined);
  const settings = options.settings ?? process.env;
  const { bindings, functionName } = options;
  const what = `Event Hub trigger of function "${functionName}"`;
  const connectionString = settings[bindings.connection];
  if (!connectionString) throw new Error(`${what}: app setting "${bindings.connection}" (the connection) is not set`);
  const eventHubName = resolveSetting(bindings.eventHubName, settings, what);
  const consumerGroup = resolveSetting(bindings.consumerGroup ?? EventHubConsumerClient.defaultConsumerGroupName, settings, what);
  const many = (bindings.cardinality ?? 'many') === 'many';

  const container = new ContainerClient(options.checkpointStoreConnectionString, CHECKPOINT_CONTAINER);
  await container.createIfNotExists();
  // The hub comes from the binding; an EntityPath in the setting must not contradict it.
  const namespaceConnection = connectionString.replace(/;?EntityPath=[^;]*/i, '');
  const client = new EventHubConsumerClient(consumerGroup, namespaceConnection, eventHubName, new BlobCheckpointStore(container), {
    // Greedy: a host that starts claims every free partition in its first cycle. The SDK's default ("balanced")
    // claims one per 10 s cycle, so an event on a not yet claimed partition waited up to 30 s after start
    // (seen: 12.6 s from upload complete to consumed). Several hosts still even out the partitions between them.
    loadBalancingOptions: { strategy: 'greedy', ...options.loadBalancingOptions },
  });

  let stopping = false;
  const abort = new AbortController();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });

  /** Invokes until the handler succeeds; false when the trigger stopped first (then no checkpoint). */
  const invokeUntilDone = async (input: unknown, events: ReceivedEventData[], context: PartitionContext): Promise<boolean> => {
    let delay = options.retryDelayMs ?? 1_000;
    for (let attempt = 1; !stopping; attempt++) {
      try {
        await options.invoke(input, metadataFor(events, context, many));
        return true;
      } catch (error) {
        log('eventhubs.trigger.invocation-failed', {
          functionName,
          partitionId: context.partitionId,
          firstSequenceNumber: events[0]?.sequenceNumber,
          events: events.length,
          attempt,
          error: error instanceof Error ? error.name : 'non-error thrown',
        });
        await sleep(delay);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      }
    }
    return false;
  };

  const subscription: Subscription = client.subscribe(
    {
      processEvents: async (events, context) => {
        if (events.length === 0 || stopping) return;
        if (many) {
          if (!(await invokeUntilDone(events.map((event) => event.body), events, context))) return;
        } else {
          for (const event of events) {
            if (!(await invokeUntilDone(event.body, [event], context))) return;
          }
        }
        await context.updateCheckpoint(events[events.length - 1]!);
      },
      processError: async (error, context) => {
        if (stopping) return;
        log('eventhubs.trigger.error', {
          functionName,
          partitionId: context.partitionId,
          code: (error as { code?: string }).code,
          message: error.message,
        });
      },
      processInitialize: async (context) => {
        log('eventhubs.trigger.partition-claimed', { functionName, partitionId: context.partitionId });
      },
    },
    {
      startPosition: earliestEventPosition,
      maxBatchSize: options.maxBatchSize ?? 100,
      maxWaitTimeInSeconds: options.maxWaitTimeInSeconds ?? 1,
    },
  );
  log('eventhubs.trigger.started', { functionName, eventHubName, consumerGroup, cardinality: many ? 'many' : 'one' });

  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      abort.abort();
      await subscription.close();
      await client.close();
    },
  };
}
