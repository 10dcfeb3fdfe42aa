import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { PartitionLog, RetainedRangeError } from '../../src/eventhubs/partitionLog.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkflow-partition-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOUR = 3_600_000;
const open = (options: { segmentBytes?: number; retentionMs?: number } = {}) =>
  PartitionLog.open({ dir, retentionMs: options.retentionMs ?? HOUR, fsync: 'always', segmentBytes: options.segmentBytes });
const payload = (n: number) => Buffer.from(`event-${n}`.padEnd(100, '.'));

test('sequence numbers and offsets are assigned in order and found again by offset and time', async () => {
  const log = await open({ segmentBytes: 1_000 });
  const positions = await log.append(30, (index) => payload(index));
  expect(positions.map((position) => position.sequenceNumber)).toEqual(Array.from({ length: 30 }, (_, n) => n));
  expect((await readdir(dir)).length).toBeGreaterThan(2);
  const fifth = positions[5]!;
  expect(log.sequenceAfterOffset(fifth.offset, true)).toBe(5);
  expect(log.sequenceAfterOffset(fifth.offset, false)).toBe(6);
  expect(log.sequenceAfterOffset(fifth.offset + 1, true)).toBe(6);
  expect(log.sequenceAfterTime(fifth.enqueuedTime - 1)).toBe(0);
  expect(log.sequenceAfterTime(fifth.enqueuedTime)).toBe(30);
  const events = await log.read(8, 100, 10_000);
  // One read stays within one segment; the reader continues with the next call.
  expect(events[0]?.sequenceNumber).toBe(8);
  expect(events[0]?.payload.toString()).toBe(payload(8).toString());
  let next = events[events.length - 1]!.sequenceNumber + 1;
  const all = [...events];
  while (next < 30) {
    const more = await log.read(next, 100, 10_000);
    all.push(...more);
    next = more[more.length - 1]!.sequenceNumber + 1;
  }
  expect(all.map((event) => event.sequenceNumber)).toEqual(Array.from({ length: 22 }, (_, n) => n + 8));
  expect(all.map((event) => event.offset)).toEqual(positions.slice(8).map((position) => position.offset));
  await log.close();
});

test('a torn write at the tail is cut off on reopen; appends continue after the last whole event', async () => {
  const first = await open();
  await first.append(10, (index) => payload(index));
  await first.close();
  const [file] = await readdir(dir);
  // A crash mid-append: a header that promises more bytes than were written.
  await appendFile(join(dir, file!), Buffer.from([0, 0, 1, 0, 1, 2, 3, 4, 9, 9]));
  const reopened = await open();
  expect(reopened.committedSequence).toBe(9);
  const [eleventh] = await reopened.append(1, () => payload(10));
  expect(eleventh?.sequenceNumber).toBe(10);
  const events = await reopened.read(9, 10, 100_000);
  expect(events.map((event) => event.payload.toString())).toEqual([payload(9).toString(), payload(10).toString()]);
  await reopened.close();
});

test('retention drops whole segments older than the retention period, never newer events', async () => {
  const log = await open({ segmentBytes: 500, retentionMs: HOUR });
  await log.append(20, (index) => payload(index));
  const segmentsBefore = (await readdir(dir)).length;
  expect(await log.enforceRetention(Date.now())).toBe(0);
  expect(await log.enforceRetention(Date.now() + 2 * HOUR)).toBe(20);
  expect((await readdir(dir)).length).toBeLessThan(segmentsBefore);
  expect(log.beginSequence).toBe(20);
  await expect(log.read(0, 10, 10_000)).rejects.toBeInstanceOf(RetainedRangeError);
  const [next] = await log.append(1, () => payload(20));
  expect(next?.sequenceNumber).toBe(20);
  expect((await log.read(20, 10, 10_000)).map((event) => event.sequenceNumber)).toEqual([20]);
  await log.close();
});
