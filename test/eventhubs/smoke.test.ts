import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition } from '@azure/event-hubs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestEndpoint, type TestEndpoint } from './support.js';

let ctx: TestEndpoint;
beforeAll(async () => { ctx = await startTestEndpoint(); });
import { setTimeout as sleep } from "node:timers/promises";
afterAll(async () => { await ctx.cleanup(); });

test('smoke', async () => {
  const producer = new EventHubProducerClient(ctx.connectionString);
  const props = await producer.getEventHubProperties();
  console.log(props);
  const batch = await producer.createBatch({ partitionKey: 'k1' });
  batch.tryAdd({ body: { hello: 1 } });
  batch.tryAdd({ body: 'two' });
  await producer.sendBatch(batch);
  await producer.sendBatch([{ body: 'three' }], { partitionId: '2' });
  for (const id of props.partitionIds) console.log(await producer.getPartitionProperties(id));
  await producer.close();
  const consumer = new EventHubConsumerClient('$Default', ctx.connectionString);
  const got: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    const sub = consumer.subscribe({
      processEvents: async (events, context) => {
        for (const e of events) got.push([context.partitionId, e.sequenceNumber, e.offset, e.partitionKey, e.enqueuedTimeUtc, e.body]);
        if (got.length >= 3) { await sub.close(); resolve(); }
      },
      processError: async (err) => { reject(err); },
    }, { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 });
  });
  console.log(got);
  await consumer.close();
  expect(got).toHaveLength(3);
});
