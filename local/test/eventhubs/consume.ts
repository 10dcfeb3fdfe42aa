import type { EventHubConsumerClient, EventPosition, ReceivedEventData, SubscribeOptions } from '@azure/event-hubs';

export type Received = ReceivedEventData & { partitionId: string };

/**
 * Subscribes (one partition or all) and resolves once `count` events arrived, or rejects on the
 * first error or after `timeoutMs` with how many came.
 */
export function receive(
  client: EventHubConsumerClient,
  count: number,
  options: SubscribeOptions & { partitionId?: string; startPosition: EventPosition; timeoutMs?: number },
): Promise<Received[]> {
  const { partitionId, timeoutMs = 30_000, ...subscribeOptions } = options;
  const received: Received[] = [];
  return new Promise<Received[]>((resolve, reject) => {
    let settled = false;
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void subscription.close().then(() => (error ? reject(error) : resolve(received)), reject);
    };
    const timer = setTimeout(() => finish(new Error(`received ${received.length} of ${count} events in ${timeoutMs} ms`)), timeoutMs);
    const handlers = {
      processEvents: async (events: ReceivedEventData[], context: { partitionId: string }) => {
        for (const event of events) received.push({ ...event, partitionId: context.partitionId });
        if (received.length >= count) finish();
      },
      processError: async (error: Error) => finish(error),
    };
    const subscription = partitionId === undefined
      ? client.subscribe(handlers, { maxWaitTimeInSeconds: 1, ...subscribeOptions })
      : client.subscribe(partitionId, handlers, { maxWaitTimeInSeconds: 1, ...subscribeOptions });
  });
}
