import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition } from '@azure/event-hubs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { partitionForKey } from '../../src/eventhubs/partitionKeys.js';
import { receive, type Received } from './consume.js';
import { startTestEndpoint, type TestEndpoint } from './support.js';

const KEYS = 250;
const PER_KEY = 400;
const TOTAL = KEYS * PER_KEY;

let ctx: TestEndpoint;
beforeAll(async () => {
  ctx = await startTestEndpoint();
});
afterAll(async () => {
  await ctx.cleanup();
});

/** Batches of 100 to 500 events of one key, keys interleaved, in each key's order. */
function* keyedBatches(): Generator<{ key: string; numbers: number[] }> {
  const next = new Array<number>(KEYS).fill(0);
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let open = Array.from({ length: KEYS }, (_, key) => key);
  while (open.length > 0) {
    const key = open[Math.floor(random() * open.length)]!;
    const size = Math.min(100 + Math.floor(random() * 401), PER_KEY - next[key]!);
    yield { key: `participant-${key}`, numbers: Array.from({ length: size }, (_, n) => next[key]! + n) };
    next[key]! += size;
    if (next[key]! >= PER_KEY) open = open.filter((candidate) => candidate !== key);
  }
}

test(`${TOTAL} keyed events across 4 partitions reach every consumer group once each, in per-key order`, async () => {
  const producer = new EventHubProducerClient(ctx.connectionString);
  const batches = [...keyedBatches()];
  // Sends run a few at a time; each key's batches still go one after another.
  const chains = new Map<string, Promise<void>>();
  const inFlight = new Set<Promise<void>>();
  for (const { key, numbers } of batches) {
    const previous = chains.get(key) ?? Promise.resolve();
    const sending = previous.then(async () => {
      const batch = await producer.createBatch({ partitionKey: key });
      for (const n of numbers) if (!batch.tryAdd({ body: { key, n } })) throw new Error('batch full');
      await producer.sendBatch(batch);
    });
    chains.set(key, sending);
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
    if (inFlight.size >= 8) await Promise.race(inFlight);
  }
  await Promise.all(chains.values());
  await producer.close();

  const consume = async (group: string): Promise<Received[]> => {
    const consumer = new EventHubConsumerClient(group, ctx.connectionString);
    try {
      return await receive(consumer, TOTAL, { startPosition: earliestEventPosition, maxBatchSize: 500, timeoutMs: 90_000 });
    } finally {
      await consumer.close();
    }
  };
  const groups = await Promise.all([consume('$Default'), consume('match-analysis')]);

  for (const received of groups) {
    expect(received).toHaveLength(TOTAL);
    const partitionOfKey = new Map<string, string>();
    const lastOfKey = new Map<string, number>();
    const problems: string[] = [];
    for (const event of received) {
      const { key, n } = event.body as { key: string; n: number };
      if (event.partitionKey !== key) problems.push(`${key}/${n}: partition key ${String(event.partitionKey)}`);
      const partition = partitionOfKey.get(key) ?? event.partitionId;
      partitionOfKey.set(key, partition);
      if (event.partitionId !== partition) problems.push(`${key}/${n}: on partition ${event.partitionId}, earlier on ${partition}`);
      // Each key's events arrive exactly once and in the order they were sent.
      const expected = (lastOfKey.get(key) ?? -1) + 1;
      if (n !== expected) problems.push(`${key}: got ${n}, expected ${expected}`);
      lastOfKey.set(key, n);
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(lastOfKey.size).toBe(KEYS);
    for (const [key, partition] of partitionOfKey) expect(partition).toBe(String(partitionForKey(key, 4)));
    expect(new Set(partitionOfKey.values()).size).toBe(4);
  }
}, 180_000);
