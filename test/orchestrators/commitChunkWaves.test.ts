import { describe, expect, it } from 'vitest';
import { functionNames } from '../../src/functionNames.js';
import type { ChunkRange, ChunkRangeInput, ChunkRangeResult, CommitInput, CommitResult, IngestStatus } from '../../src/ingestContracts.js';
import { runOrchestration, type Call } from '../support/orchestration.js';

const BLOB = { state: 'CA', container: 'uploads', blobName: 'ca/p.csv', etag: '0x8D1' };
const START: IngestStatus = { phase: 'committing', chunksTotal: 10, chunksDone: 0, rowsCommitted: 0, rowsRejected: 0 };

/** 100 rows per chunk, chunkNo of them rejected. */
const ok = (chunkNo: number): CommitResult => ({ ok: true, chunkNo, rowsCommitted: 100 - chunkNo, rowsRejected: chunkNo });
const busy = (chunkNo: number): CommitResult => ({ ok: false, chunkNo, transient: true, code: 'busy', message: 'all commit slots taken' });
const transient = (chunkNo: number): CommitResult => ({ ok: false, chunkNo, transient: true, code: 'ECONNRESET', message: 'connection reset' });
const permanent = (chunkNo: number): CommitResult => ({ ok: false, chunkNo, transient: false, code: 'Error', message: 'blob changed' });

/**
 * Commits chunks of `range` with `outcome(chunkNo, attempt)` deciding each commit (attempt counts from 1), through the
 * registered chunk sub-orchestration: commitChunkWaves with a progress reporter starting from `start`.
 */
async function commit(range: Partial<ChunkRange>, outcome: (chunkNo: number, attempt: number) => CommitResult = ok, start = START) {
  const attempts = new Map<number, number>();
  const full: ChunkRange = { uploadId: 'u1', blob: BLOB, from: 0, to: 10, maxChunksInFlight: 4, ...range };
  const input: ChunkRangeInput = { ...full, progress: start };
  const run = await runOrchestration<ChunkRangeResult>(
    functionNames.ingestChunksOrchestrator,
    {
      input,
      answer: (call: Call) => {
        expect(call).toMatchObject({ kind: 'activity', name: 'commitChunk' });
        const { uploadId, blob, chunkNo } = call.input as CommitInput;
        expect(uploadId).toBe('u1');
        expect(blob).toEqual(BLOB);
        const attempt = (attempts.get(chunkNo) ?? 0) + 1;
        attempts.set(chunkNo, attempt);
        return outcome(chunkNo, attempt);
      },
    },
  );
  const waves = run.yielded.filter((task) => task.kind === 'all').map((task) => task.tasks.map((t) => (t as Call & { input: CommitInput }).input.chunkNo));
  return { ...run, waves, attempts };
}

describe('commitChunkWaves', () => {
  it('commits the range in waves of maxChunksInFlight and returns the summed counts', async () => {
    const run = await commit({ from: 0, to: 10, maxChunksInFlight: 4 });
    expect(run.waves).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(run.output).toEqual({ chunksDone: 10, rowsCommitted: 1000 - 45, rowsRejected: 45 });
    expect(run.delays).toEqual([]);
  });

  it('calls commitChunk with its crash retry: 3 attempts, 5 s doubling', async () => {
    const run = await commit({ to: 1 });
    expect(run.calls).toHaveLength(1);
    const { retry } = run.calls[0] as Extract<Call, { kind: 'activity' }>;
    expect(retry).toMatchObject({ firstRetryIntervalInMilliseconds: 5_000, maxNumberOfAttempts: 3, backoffCoefficient: 2 });
  });

  it('commits one chunk at a time when maxChunksInFlight is 0', async () => {
    expect((await commit({ from: 3, to: 6, maxChunksInFlight: 0 })).waves).toEqual([[3], [4], [5]]);
  });

  it('returns nothing to do for an empty range', async () => {
    const run = await commit({ from: 4, to: 4 });
    expect(run.yielded).toEqual([]);
    expect(run.output).toEqual({ chunksDone: 0, rowsCommitted: 0, rowsRejected: 0 });
  });

  it('reports the upload totals after every wave, on customStatus and to the entity, from the status it started at', async () => {
    const start: IngestStatus = { phase: 'committing', chunksTotal: 1200, chunksDone: 500, rowsCommitted: 49_000, rowsRejected: 1_000 };
    const run = await commit({ from: 500, to: 505, maxChunksInFlight: 3 }, (chunkNo) => ({ ok: true, chunkNo, rowsCommitted: 90, rowsRejected: 10 }), start);
    expect(run.signals).toEqual([
      { instanceId: '@uploadprogress@u1', operation: 'committed', input: { chunksDone: 503, rowsCommitted: 49_270, rowsRejected: 1_030 } },
      { instanceId: '@uploadprogress@u1', operation: 'committed', input: { chunksDone: 505, rowsCommitted: 49_450, rowsRejected: 1_050 } },
    ]);
    expect(run.statuses.at(-1)).toEqual({ phase: 'committing', chunksTotal: 1200, chunksDone: 505, rowsCommitted: 49_450, rowsRejected: 1_050 });
    expect(run.output).toEqual({ chunksDone: 505, rowsCommitted: 49_450, rowsRejected: 1_050 });
  });

  it('waits 1 s and retries busy chunks first in the next wave, without ever using up attempts', async () => {
    const run = await commit({ from: 0, to: 6, maxChunksInFlight: 4 }, (chunkNo, attempt) => (chunkNo === 1 && attempt <= 20 ? busy(chunkNo) : ok(chunkNo)));
    expect(run.attempts.get(1)).toBe(21);
    expect(run.delays).toEqual(Array(20).fill(1_000));
    expect(run.waves.slice(0, 3)).toEqual([[0, 1, 2, 3], [1, 4, 5], [1]]);
    expect(run.output).toEqual({ chunksDone: 6, rowsCommitted: 600 - 15, rowsRejected: 15 });
    expect(run.output.failure).toBeUndefined();
  });

  it('backs off 2 s doubling to 60 s for a transient failure and gives up after 8 attempts', async () => {
    const run = await commit({ from: 0, to: 3, maxChunksInFlight: 4 }, (chunkNo) => (chunkNo === 2 ? transient(chunkNo) : ok(chunkNo)));
    expect(run.attempts.get(2)).toBe(8);
    expect(run.delays).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(run.output).toEqual({
      chunksDone: 2, rowsCommitted: 199, rowsRejected: 1,
      failure: { chunkNo: 2, code: 'ECONNRESET', message: 'connection reset (gave up after 8 attempts)' },
    });
  });

  it('completes when a transient failure clears before the attempts run out', async () => {
    const run = await commit({ to: 2 }, (chunkNo, attempt) => (chunkNo === 0 && attempt < 8 ? transient(chunkNo) : ok(chunkNo)));
    expect(run.attempts.get(0)).toBe(8);
    expect(run.output).toEqual({ chunksDone: 2, rowsCommitted: 199, rowsRejected: 1 });
  });

  it('fails at once on a permanent failure: the rest of its wave counts, no later wave starts', async () => {
    const run = await commit({ from: 0, to: 10, maxChunksInFlight: 4 }, (chunkNo) => (chunkNo === 1 ? permanent(chunkNo) : ok(chunkNo)));
    expect(run.waves).toEqual([[0, 1, 2, 3]]);
    expect(run.delays).toEqual([]);
    expect(run.output).toEqual({
      chunksDone: 3, rowsCommitted: 295, rowsRejected: 5,
      failure: { chunkNo: 1, code: 'Error', message: 'blob changed' },
    });
    expect(run.signals.map((s) => s.input)).toEqual([{ chunksDone: 3, rowsCommitted: 295, rowsRejected: 5 }]);
  });

  it('waits for the worst retried chunk when busy and transient failures share a wave; busy does not add attempts', async () => {
    const run = await commit({ from: 0, to: 2 }, (chunkNo, attempt) => {
      if (chunkNo === 0 && attempt <= 2) return transient(chunkNo);
      if (chunkNo === 1 && attempt <= 3) return busy(chunkNo);
      return ok(chunkNo);
    });
    // Waves 1 and 2: chunk 0 transient (attempt 2, then 3) beside busy chunk 1 -> 2 s, 4 s. Wave 3: chunk 1 busy alone -> 1 s.
    expect(run.delays).toEqual([2_000, 4_000, 1_000]);
    expect(run.waves).toEqual([[0, 1], [0, 1], [0, 1], [1]]);
    expect(run.output.failure).toBeUndefined();
  });
});
