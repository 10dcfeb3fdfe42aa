import type { EventHubProducerClient } from '@azure/event-hubs';
import type { OutboxEvent } from '../engine/outboxDelivery.js';

/**
 * Sends CloudEvents (structured JSON mode) to Event Hubs, one batch per state so that `partitionKey` =
 * state keeps each state's events in order on one partition.
 */
export async function publishCloudEvents(producer: EventHubProducerClient, events: OutboxEvent[]): Promise<void> {
  const byState = new Map<string, OutboxEvent[]>();
  for (const event of events) {
    const state = String(event.data.state ?? '');
    byState.set(state, [...(byState.get(state) ?? []), event]);
  }
  for (const [state, group] of byState) {
    let batch = await producer.createBatch(state ? { partitionKey: state } : {});
    for (const event of group) {
      const data = { body: event, contentType: 'application/cloudevents+json; charset=utf-8', messageId: event.id };
      if (batch.tryAdd(data)) continue;
      await producer.sendBatch(batch);
      batch = await producer.createBatch(state ? { partitionKey: state } : {});
      if (!batch.tryAdd(data)) throw new Error(`event ${event.id} is larger than an Event Hubs batch`);
    }
    if (batch.count > 0) await producer.sendBatch(batch);
  }
}
