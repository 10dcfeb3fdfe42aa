import type { EventHubProducerClient } from '@azure/event-hubs';
import type { InvocationContext } from '@azure/functions';
import type pg from 'pg';
import { deliverOutbox, eventSchemaUrl, isEventType, type OutboxEvent } from '../engine/index.js';

/**
 * Sends every pending outbox event to Event Hubs: the one path, for an upload's publish step and for the sweeper.
 * Rejects when Event Hubs is unreachable; the unsent events stay in the outbox for the next attempt.
 */
export function publishPendingEvents(pool: pg.Pool, producer: () => EventHubProducerClient, publicHostName: string | undefined): Promise<number> {
  return deliverOutbox(pool, (events) => publishCloudEvents(producer(), events.map((event) => withDataschema(event, publicHostName))));
}

/**
 * Sends what waits in the outbox now, right after the transaction that wrote it. Never fails the caller: when Event
 * Hubs is unreachable the events stay in the outbox and the outbox sweeper sends them (a warning says so).
 */
export async function publishNowOrDefer(publish: () => Promise<number>, context: Pick<InvocationContext, 'warn'>, who: string): Promise<void> {
  try {
    await publish();
  } catch (error) {
    context.warn(`${who}: events deferred to the outbox sweeper: ${(error as Error).message}`);
  }
}

/** The URL the API serves the event's data schema at (CloudEvents `dataschema`), when the app's host name is known. */
function withDataschema(event: OutboxEvent, publicHostName: string | undefined): OutboxEvent {
  return publicHostName && isEventType(event.type) ? { ...event, dataschema: eventSchemaUrl(publicHostName, event.type) } : event;
}

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
