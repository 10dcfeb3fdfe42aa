import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  EventHubBufferedProducerClient,
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  latestEventPosition,
  type MessagingError,
} from '@azure/event-hubs';
import rhea, { type EventContext } from 'rhea';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { partitionForKey } from '../../src/eventhubs/partitionKeys.js';
import { receive } from './consume.js';
import { HUB, startTestEndpoint, type TestEndpoint } from './support.js';

let ctx: TestEndpoint;
beforeAll(async () => {
  ctx = await startTestEndpoint();
});
afterAll(async () => {
  await ctx.cleanup();
});

const noRetries = { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } };

/** Runs `use` with a producer and always closes it. */
async function withProducer<T>(use: (producer: EventHubProducerClient) => Promise<T>, connectionString = ctx.connectionString): Promise<T> {
  const producer = new EventHubProducerClient(connectionString, noRetries);
  try {
    return await use(producer);
  } finally {
    await producer.close();
  }
}

async function withConsumer<T>(group: string, use: (consumer: EventHubConsumerClient) => Promise<T>): Promise<T> {
  const consumer = new EventHubConsumerClient(group, ctx.connectionString);
  try {
    return await use(consumer);
  } finally {
    await consumer.close();
  }
}

describe('publishing and consuming with the real SDK', () => {
  test('hub and partition properties, keyed and explicit sends, annotations on delivery', async () => {
    const sentAfter = Date.now();
    const properties = await withProducer(async (producer) => {
      const hub = await producer.getEventHubProperties();
      const batch = await producer.createBatch({ partitionKey: 'state-CA' });
      for (let n = 0; n < 3; n++) {
        expect(batch.tryAdd({ body: { n }, properties: { kind: 'keyed', n }, messageId: `keyed-${n}`, contentType: 'application/json' })).toBe(true);
      }
      await producer.sendBatch(batch);
      await producer.sendBatch([{ body: 'explicit-0' }, { body: 'explicit-1' }], { partitionId: '3' });
      return { hub, keyed: await producer.getPartitionProperties(String(partitionForKey('state-CA', 4))), explicit: await producer.getPartitionProperties('3') };
    });
    expect(properties.hub).toMatchObject({ name: HUB, partitionIds: ['0', '1', '2', '3'] });
    expect(properties.explicit).toMatchObject({ partitionId: '3', beginningSequenceNumber: 0, isEmpty: false });
    expect(properties.explicit.lastEnqueuedSequenceNumber).toBeGreaterThanOrEqual(1);

    const keyedPartition = String(partitionForKey('state-CA', 4));
    const keyed = await withConsumer('$Default', (consumer) =>
      receive(consumer, 3, { partitionId: keyedPartition, startPosition: earliestEventPosition }),
    );
    const mine = keyed.filter((event) => event.partitionKey === 'state-CA');
    expect(mine.map((event) => event.body)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(mine.map((event) => event.messageId)).toEqual(['keyed-0', 'keyed-1', 'keyed-2']);
    expect(mine[1]?.properties).toEqual({ kind: 'keyed', n: 1 });
    expect(mine[0]?.contentType).toBe('application/json');
    const sequenceNumbers = mine.map((event) => event.sequenceNumber);
    expect(sequenceNumbers).toEqual([sequenceNumbers[0], sequenceNumbers[0]! + 1, sequenceNumbers[0]! + 2]);
    const offsets = mine.map((event) => Number(event.offset));
    expect(offsets[1]).toBeGreaterThan(offsets[0]!);
    expect(mine[2]?.sequenceNumber).toBe(properties.keyed.lastEnqueuedSequenceNumber);
    expect(mine[2]?.offset).toBe(properties.keyed.lastEnqueuedOffset);
    expect(mine[0]!.enqueuedTimeUtc.getTime()).toBeGreaterThanOrEqual(sentAfter - 5);
    expect(mine[0]!.enqueuedTimeUtc.getTime()).toBeLessThanOrEqual(Date.now());
  });

  test('a key maps to the partition the SDK buffered producer computes; unkeyed sends go round-robin', async () => {
    const sdkMapper = pathToFileURL(join(process.cwd(), 'node_modules/@azure/event-hubs/dist/esm/impl/partitionKeyToIdMapper.js')).href;
    const { mapPartitionKeyToId } = (await import(sdkMapper)) as { mapPartitionKeyToId(key: string, count: number): number };
    for (const key of ['', 'a', 'state-CA', 'participant-000123', 'ключ', 'a-much-longer-partition-key-of-more-than-twelve-bytes']) {
      expect(partitionForKey(key, 4)).toBe(mapPartitionKeyToId(key, 4));
      expect(partitionForKey(key, 7)).toBe(mapPartitionKeyToId(key, 7));
    }

    const before = await withProducer(async (producer) => {
      const ids = ['0', '1', '2', '3'];
      const counts = await Promise.all(ids.map(async (id) => (await producer.getPartitionProperties(id)).lastEnqueuedSequenceNumber));
      for (let n = 0; n < 4; n++) await producer.sendBatch([{ body: `spread-${n}` }]);
      const after = await Promise.all(ids.map(async (id) => (await producer.getPartitionProperties(id)).lastEnqueuedSequenceNumber));
      return after.map((last, index) => last - counts[index]!);
    });
    expect(before).toEqual([1, 1, 1, 1]);

    const buffered = new EventHubBufferedProducerClient(ctx.connectionString, {
      onSendEventsErrorHandler: (context) => {
        throw context.error;
      },
    });
    await buffered.enqueueEvents([{ body: 'buffered-0' }, { body: 'buffered-1' }], { partitionKey: 'participant-000123' });
    await buffered.flush();
    await buffered.close();
    const partition = String(mapPartitionKeyToId('participant-000123', 4));
    const { lastEnqueuedSequenceNumber } = await withProducer((producer) => producer.getPartitionProperties(partition));
    const events = await withConsumer('$Default', (consumer) =>
      receive(consumer, lastEnqueuedSequenceNumber + 1, { partitionId: partition, startPosition: earliestEventPosition }),
    );
    expect(events.map((event) => event.body)).toEqual(expect.arrayContaining(['buffered-0', 'buffered-1']));
  });

  test('receivers start where asked: sequence number, offset, enqueued time, latest; inclusive or not', async () => {
    const partitionId = '1';
    const firstBatch = Array.from({ length: 5 }, (_, n) => ({ body: `position-${n}` }));
    const secondBatch = Array.from({ length: 5 }, (_, n) => ({ body: `position-${n + 5}` }));
    const start = await withProducer(async (producer) => {
      const last = (await producer.getPartitionProperties(partitionId)).lastEnqueuedSequenceNumber;
      await producer.sendBatch(firstBatch, { partitionId });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await producer.sendBatch(secondBatch, { partitionId });
      return last + 1;
    });
    await withConsumer('match-analysis', async (consumer) => {
      const all = (await receive(consumer, start + 10, { partitionId, startPosition: earliestEventPosition })).slice(start);
      expect(all.map((event) => event.body)).toEqual([...firstBatch, ...secondBatch].map((event) => event.body));
      const third = all[3]!;
      const bodiesFrom = async (startPosition: Parameters<typeof receive>[2]['startPosition'], count: number) =>
        (await receive(consumer, count, { partitionId, startPosition })).map((event) => event.body);

      expect(await bodiesFrom({ sequenceNumber: third.sequenceNumber }, 6)).toEqual(all.slice(4).map((event) => event.body));
      expect(await bodiesFrom({ sequenceNumber: third.sequenceNumber, isInclusive: true }, 7)).toEqual(all.slice(3).map((event) => event.body));
      expect(await bodiesFrom({ offset: third.offset }, 6)).toEqual(all.slice(4).map((event) => event.body));
      expect(await bodiesFrom({ offset: third.offset, isInclusive: true }, 7)).toEqual(all.slice(3).map((event) => event.body));
      expect(await bodiesFrom({ enqueuedOn: all[4]!.enqueuedTimeUtc }, 5)).toEqual(all.slice(5).map((event) => event.body));

      const latest = receive(consumer, 2, { partitionId, startPosition: latestEventPosition });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await withProducer((producer) => producer.sendBatch([{ body: 'late-0' }, { body: 'late-1' }], { partitionId }));
      expect((await latest).map((event) => event.body)).toEqual(['late-0', 'late-1']);
    });
  });

  test('a restarted endpoint keeps every event, its sequence number and offset, and continues the sequence', async () => {
    const partitionId = '2';
    const before = await withProducer(async (producer) => {
      await producer.sendBatch(Array.from({ length: 50 }, (_, n) => ({ body: { restart: n } })), { partitionId });
      return producer.getPartitionProperties(partitionId);
    });
    const count = before.lastEnqueuedSequenceNumber + 1;
    const read = () => withConsumer('$Default', (consumer) => receive(consumer, count, { partitionId, startPosition: earliestEventPosition }));
    const first = await read();
    await ctx.restart();
    const second = await read();
    expect(second.map((event) => [event.sequenceNumber, event.offset, event.enqueuedTimeUtc.getTime(), event.body])).toEqual(
      first.map((event) => [event.sequenceNumber, event.offset, event.enqueuedTimeUtc.getTime(), event.body]),
    );
    const after = await withProducer(async (producer) => {
      await producer.sendBatch([{ body: 'after-restart' }], { partitionId });
      return producer.getPartitionProperties(partitionId);
    });
    expect(after.lastEnqueuedSequenceNumber).toBe(before.lastEnqueuedSequenceNumber + 1);
    expect(Number(after.lastEnqueuedOffset)).toBeGreaterThan(Number(before.lastEnqueuedOffset));
  });
});

describe('errors the SDK maps', () => {
  const codeOf = async (promise: Promise<unknown>): Promise<string | undefined> => {
    try {
      await promise;
    } catch (error) {
      return (error as MessagingError).code;
    }
    throw new Error('expected the operation to fail');
  };

  test('unknown hub', async () => {
    const connectionString = ctx.connectionString.replace(`EntityPath=${HUB}`, 'EntityPath=no-such-hub');
    await withProducer(async (producer) => {
      expect(await codeOf(producer.getEventHubProperties())).toBe('MessagingEntityNotFoundError');
      expect(await codeOf(producer.sendBatch([{ body: 'x' }]))).toBe('MessagingEntityNotFoundError');
    }, connectionString);
  });

  test('unknown consumer group', async () => {
    const error = await withConsumer('no-such-group', (consumer) =>
      receive(consumer, 1, { partitionId: '0', startPosition: earliestEventPosition }).then(
        () => undefined,
        (reason: MessagingError) => reason,
      ),
    );
    expect(error?.code).toBe('MessagingEntityNotFoundError');
    expect(error?.message).toContain('no-such-group');
  });

  test('expired or malformed token', async () => {
    const endpoint = /Endpoint=([^;]+)/.exec(ctx.connectionString)![1];
    const expired = `SharedAccessSignature sr=${encodeURIComponent(`${endpoint}/${HUB}`)}&sig=abc&se=1000&skn=RootManageSharedAccessKey`;
    const withToken = (token: string) => `Endpoint=${endpoint};SharedAccessSignature=${token};UseDevelopmentEmulator=true;EntityPath=${HUB}`;
    await withProducer(async (producer) => {
      expect(await codeOf(producer.getEventHubProperties())).toBe('UnauthorizedError');
    }, withToken(expired));
    const otherHub = `SharedAccessSignature sr=${encodeURIComponent(`${endpoint}/other-hub`)}&sig=abc&se=${Math.floor(Date.now() / 1000) + 3600}&skn=RootManageSharedAccessKey`;
    await withProducer(async (producer) => {
      expect(await codeOf(producer.sendBatch([{ body: 'x' }]))).toBe('UnauthorizedError');
    }, withToken(otherHub));
  });

  test('a message over 1 MiB', async () => {
    await withProducer(async (producer) => {
      const batch = await producer.createBatch();
      expect(batch.maxSizeInBytes).toBe(1024 * 1024);
      expect(batch.tryAdd({ body: Buffer.alloc(1024 * 1024) })).toBe(false);
      expect(await codeOf(producer.sendBatch([{ body: Buffer.alloc(1024 * 1024 + 1) }], { partitionId: '0' }))).toBe('MessageTooLargeError');
      // The link stays usable for events that fit.
      await producer.sendBatch([{ body: Buffer.alloc(1000 * 1000) }], { partitionId: '0' });
    });
  });

  test('a receiver with a higher owner level disconnects the lower one', async () => {
    const low = new EventHubConsumerClient('match-analysis', ctx.connectionString);
    const high = new EventHubConsumerClient('match-analysis', ctx.connectionString);
    try {
      const lowError = new Promise<MessagingError>((resolve) => {
        low.subscribe('0', { processEvents: async () => undefined, processError: async (error) => resolve(error as MessagingError) }, {
          ownerLevel: 1,
          startPosition: earliestEventPosition,
          maxWaitTimeInSeconds: 1,
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const received = receive(high, 1, { partitionId: '0', startPosition: earliestEventPosition, ownerLevel: 2 });
      const error = await lowError;
      expect(error.code).toBe('ReceiverDisconnectedError');
      expect((await received).length).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([low.close(), high.close()]);
    }
  });
});

describe('flow control', () => {
  test('a receiver gets no more events than the credit it granted, however many are stored', async () => {
    const partitionId = '3';
    await withProducer((producer) => producer.sendBatch(Array.from({ length: 200 }, (_, n) => ({ body: `credit-${n}` })), { partitionId }));
    // A bare AMQP client, so the credit is exactly what this test grants (the SDK prefetches).
    const connection = rhea.create_container().connect({ host: '127.0.0.1', port: ctx.endpoint.port, reconnect: false });
    try {
      await new Promise((resolve) => connection.once('connection_open', resolve));
      const audience = `sb://localhost:${ctx.endpoint.port}/${HUB}`;
      const cbsReply = connection.open_receiver({ source: { address: '$cbs' }, name: 'cbs-reply' });
      const cbs = connection.open_sender({ target: { address: '$cbs' } });
      await new Promise((resolve) => cbs.once('sendable', resolve));
      const accepted = new Promise<unknown>((resolve) => cbsReply.once('message', (context: EventContext) => resolve(context.message?.application_properties?.['status-code'])));
      cbs.send({
        message_id: 'put-token-1',
        reply_to: 'cbs-reply',
        body: `SharedAccessSignature sr=${encodeURIComponent(audience)}&sig=x&se=${Math.floor(Date.now() / 1000) + 600}&skn=test`,
        application_properties: { operation: 'put-token', name: audience, type: 'servicebus.windows.net:sastoken' },
      });
      expect(await accepted).toBe(202);

      const received: unknown[] = [];
      const receiver = connection.open_receiver({
        credit_window: 0,
        source: {
          address: `${HUB}/ConsumerGroups/$Default/Partitions/${partitionId}`,
          filter: { 'apache.org:selector-filter:string': rhea.types.wrap_described("amqp.annotation.x-opt-offset > '-1'", 0x468c00000004) },
        },
      });
      receiver.on('message', (context: EventContext) => received.push(context.message?.body));
      await new Promise((resolve) => receiver.once('receiver_open', resolve));
      receiver.add_credit(5);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(received).toHaveLength(5);
      receiver.add_credit(7);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(received).toHaveLength(12);
    } finally {
      connection.close();
    }
  });
});
