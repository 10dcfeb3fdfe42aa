import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../src/azurite.js';
import { CHECKPOINT_CONTAINER, startEventHubTrigger, type EventHubTrigger, type EventHubTriggerOptions } from '../../src/eventhubs/trigger.js';
import { HUB, startTestEndpoint, type TestEndpoint } from './support.js';

let ctx: TestEndpoint;
let azurite: RunningAzurite;
let azuriteDir: string;

beforeAll(async () => {
  azuriteDir = await mkdtemp(join(tmpdir(), 'bulkflow-azurite-'));
  [ctx, azurite] = await Promise.all([startTestEndpoint(), startAzurite({ location: azuriteDir })]);
});
afterAll(async () => {
  await Promise.all([ctx?.cleanup(), azurite?.stop()]);
  await rm(azuriteDir, { recursive: true, force: true });
});

interface Delivered {
  partitionId: string;
  sequenceNumbers: number[];
  bodies: unknown[];
}

/** A trigger whose handler records every invocation; `fail` can make an invocation throw. */
async function startRecordingTrigger(
  consumerGroup: string,
  delivered: Delivered[],
  extra: Partial<EventHubTriggerOptions> & { fail?: (invocation: Delivered) => Promise<boolean> } = {},
): Promise<EventHubTrigger> {
  const { fail, ...rest } = extra;
  return startEventHubTrigger({
    functionName: 'matchAnalysis',
    bindings: { eventHubName: '%HUB_NAME%', consumerGroup, connection: 'EventHubConnection', cardinality: 'many' },
    settings: { EventHubConnection: ctx.endpoint.connectionString(HUB), HUB_NAME: HUB },
    checkpointStoreConnectionString: azurite.connectionString,
    retryDelayMs: 100,
    loadBalancingOptions: { updateIntervalInMs: 500, partitionOwnershipExpirationIntervalInMs: 3_000 },
    invoke: async (input, metadata) => {
      const invocation = {
        partitionId: (metadata.partitionContext as { partitionId: string }).partitionId,
        sequenceNumbers: metadata.sequenceNumberArray as number[],
        bodies: input as unknown[],
      };
      delivered.push(invocation);
      if (await fail?.(invocation)) throw new Error('handler failed');
    },
    ...rest,
  });
}

async function publish(from: number, count: number): Promise<void> {
  const producer = new EventHubProducerClient(ctx.endpoint.connectionString(HUB));
  try {
    for (let start = from; start < from + count; start += 100) {
      const size = Math.min(100, from + count - start);
      await producer.sendBatch(Array.from({ length: size }, (_, n) => ({ body: { n: start + n } })), { partitionKey: `key-${start % 7}` });
    }
  } finally {
    await producer.close();
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const numbersOf = (delivered: Delivered[]): number[] => delivered.flatMap((invocation) => invocation.bodies.map((body) => (body as { n: number }).n));
const checkpointStore = () => new BlobCheckpointStore(new ContainerClient(azurite.connectionString, CHECKPOINT_CONTAINER));
// The SDK names the namespace by host, without the port.
const namespace = () => 'localhost';

test('the trigger processes batches and checkpoints; restarts of the consumer and of the endpoint resume after the checkpoint', async () => {
  const group = '$Default';
  await publish(0, 1_000);
  const first: Delivered[] = [];
  let trigger = await startRecordingTrigger(group, first);
  await until(() => numbersOf(first).length >= 1_000, '1000 events');
  await until(async () => (await checkpointStore().listCheckpoints(namespace(), HUB, group)).length === 4, 'checkpoints of 4 partitions');
  await trigger.stop();
  expect(numbersOf(first).sort((a, b) => a - b)).toEqual(Array.from({ length: 1_000 }, (_, n) => n));
  expect(Math.max(...first.map((invocation) => invocation.bodies.length))).toBeLessThanOrEqual(100);
  const lastDelivered = new Map<string, number>();
  for (const invocation of first) lastDelivered.set(invocation.partitionId, Math.max(lastDelivered.get(invocation.partitionId) ?? -1, ...invocation.sequenceNumbers));
  const checkpoints = await checkpointStore().listCheckpoints(namespace(), HUB, group);
  expect(Object.fromEntries(checkpoints.map((checkpoint) => [checkpoint.partitionId, checkpoint.sequenceNumber]))).toEqual(Object.fromEntries(lastDelivered));

  /** A new trigger gets the `count` events from `from` on, and (a second later) nothing else. */
  const resumesWith = async (from: number, count: number): Promise<void> => {
    const delivered: Delivered[] = [];
    trigger = await startRecordingTrigger(group, delivered);
    await until(() => numbersOf(delivered).length >= count, `${count} events from ${from} on`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await trigger.stop();
    expect(numbersOf(delivered).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, n) => from + n));
  };

  // Consumer restart: only what came after the checkpoint.
  await publish(1_000, 200);
  await resumesWith(1_000, 200);

  // Endpoint restart with unprocessed events in it: they are all still there, and nothing older replays.
  await publish(1_200, 300);
  await ctx.restart();
  await resumesWith(1_200, 300);
}, 120_000);

test('a handler that throws gets the same batch again, and nothing is checkpointed until it succeeds', async () => {
  const group = 'match-analysis';
  await publish(10_000, 300);
  const delivered: Delivered[] = [];
  const attempts = new Map<string, number>();
  const succeeded = new Set<number>();
  const checkpointedBeforeRetry: Array<{ checkpointed: number; firstOfBatch: number }> = [];
  const store = checkpointStore();
  const trigger = await startRecordingTrigger(group, delivered, {
    // Every batch fails twice; on the last failure, look at what the store holds for its partition.
    fail: async (invocation) => {
      const key = `${invocation.partitionId}:${invocation.sequenceNumbers[0]}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      if (attempt === 2) {
        const checkpoint = (await store.listCheckpoints(namespace(), HUB, group)).find((c) => c.partitionId === invocation.partitionId);
        checkpointedBeforeRetry.push({ checkpointed: checkpoint?.sequenceNumber ?? -1, firstOfBatch: invocation.sequenceNumbers[0]! });
      }
      if (attempt <= 2) return true;
      for (const body of invocation.bodies) succeeded.add((body as { n: number }).n);
      return false;
    },
  });
  await until(() => [...succeeded].filter((n) => n >= 10_000).length >= 300, 'all 300 events handled');
  await trigger.stop();
  expect(checkpointedBeforeRetry.length).toBeGreaterThan(0);
  for (const { checkpointed, firstOfBatch } of checkpointedBeforeRetry) expect(checkpointed).toBeLessThan(firstOfBatch);
  const byBatch = new Map<string, Delivered[]>();
  for (const invocation of delivered) {
    const key = `${invocation.partitionId}:${invocation.sequenceNumbers[0]}`;
    byBatch.set(key, [...(byBatch.get(key) ?? []), invocation]);
  }
  for (const [key, invocations] of byBatch) {
    expect([key, invocations.length]).toEqual([key, 3]);
    for (const retry of invocations.slice(1)) {
      expect(retry.sequenceNumbers).toEqual(invocations[0]!.sequenceNumbers);
      expect(retry.bodies).toEqual(invocations[0]!.bodies);
    }
  }
}, 90_000);

test('two triggers in one consumer group split the partitions, and one takes over when the other stops', async () => {
  const group = '$Default';
  const store = checkpointStore();
  const owners = async () => {
    const ownership = await store.listOwnership(namespace(), HUB, group);
    const counts = new Map<string, number>();
    for (const claim of ownership) if (claim.ownerId) counts.set(claim.ownerId, (counts.get(claim.ownerId) ?? 0) + 1);
    return [...counts.values()].sort();
  };
  const deliveredA: Delivered[] = [];
  const deliveredB: Delivered[] = [];
  const a = await startRecordingTrigger(group, deliveredA);
  const b = await startRecordingTrigger(group, deliveredB);
  try {
    await until(async () => JSON.stringify(await owners()) === '[2,2]', 'a 2/2 split of the partitions');
    await publish(5_000, 400);
    // Distinct counts: during a rebalance a batch may legitimately be delivered twice (at-least-once).
    const distinct = (delivered: Delivered[], from: number, to: number) => new Set(numbersOf(delivered).filter((n) => n >= from && n < to)).size;
    await until(() => distinct([...deliveredA, ...deliveredB], 5_000, 5_400) === 400, '400 events across both');
    expect(new Set(deliveredA.map((invocation) => invocation.partitionId)).size).toBeGreaterThan(0);
    expect(new Set(deliveredB.map((invocation) => invocation.partitionId)).size).toBeGreaterThan(0);
    await a.stop();
    await until(async () => JSON.stringify(await owners()) === '[4]', 'the remaining trigger owning all 4 partitions');
    await publish(6_000, 400);
    await until(() => distinct(deliveredB, 6_000, 6_400) === 400, 'the survivor processing all new events');
    expect(distinct([...deliveredA, ...deliveredB], 5_000, 7_000)).toBe(800);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}, 120_000);

test('cardinality one invokes per event with per-event metadata', async () => {
  const invocations: Array<{ input: unknown; metadata: Record<string, unknown> }> = [];
  const trigger = await startEventHubTrigger({
    functionName: 'perEvent',
    bindings: { eventHubName: HUB, consumerGroup: '$Default', connection: 'EventHubConnection', cardinality: 'one' },
    settings: { EventHubConnection: ctx.endpoint.connectionString(HUB) },
    checkpointStoreConnectionString: azurite.connectionString,
    loadBalancingOptions: { updateIntervalInMs: 500, partitionOwnershipExpirationIntervalInMs: 3_000 },
    invoke: async (input, metadata) => {
      invocations.push({ input, metadata });
    },
  });
  try {
    await publish(20_000, 20);
    await until(() => invocations.filter(({ input }) => (input as { n: number }).n >= 20_000).length >= 20, '20 single-event invocations');
  } finally {
    await trigger.stop();
  }
  const mine = invocations.filter(({ input }) => (input as { n: number }).n >= 20_000);
  expect(mine.map(({ input }) => (input as { n: number }).n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => 20_000 + n));
  for (const { metadata } of mine) {
    expect(typeof metadata.sequenceNumber).toBe('number');
    expect(metadata.partitionKey).toMatch(/^key-/);
    expect(metadata.partitionContext).toMatchObject({ eventHubName: HUB, consumerGroup: '$Default' });
  }
}, 60_000);
