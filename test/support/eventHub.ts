import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { checkEvent } from './contract.js';
import { waitFor, type TestStack } from './localStack.js';

/** The events of one type on the upload-events hub (every event read checked against its schema), read from the start with a consumer group (no new one for 1.5 s). */
export async function readHub(t: TestStack, group: string, type: string, atLeast: number) {
  const consumer = new EventHubConsumerClient(group, t.stack.settings.EventHubConnection!, 'upload-events');
  const seen: Array<{ id: string; partitionKey: string | null; data: unknown }> = [];
  // Every event read, of any type, is checked against its contract (contract.ts).
  const bodies: object[] = [];
  const subscription = consumer.subscribe(
    {
      processEvents: async (events) => {
        for (const e of events) {
          const body = e.body as { id: string; type: string; data: unknown };
          bodies.push(body);
          if (body.type === type) seen.push({ id: body.id, partitionKey: e.partitionKey ?? null, data: body.data });
        }
      },
      processError: async () => {},
    },
    { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
  );
  try {
    await waitFor(`${atLeast} ${type} events`, async () => (seen.length >= atLeast ? true : undefined));
    await new Promise((done) => setTimeout(done, 1500));
    for (const body of bodies) await checkEvent(body);
    return seen;
  } finally {
    await subscription.close();
    await consumer.close();
  }
}
