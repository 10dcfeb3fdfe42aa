import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { functionNames } from '../functionNames.js';
import { BUSY, type ChunkRangeInput, type ChunkRangeResult, type CommitResult } from '../ingestContracts.js';

/** Attempts per chunk for classified transient failures (connection reset, failover, too many connections...). */
const MAX_TRANSIENT_ATTEMPTS = 8;
const FIRST_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 60_000;
/** Wait before retrying chunks that found every global commit slot taken. */
const BUSY_BACKOFF_MS = 1_000;
/** The activity returns result objects; this only covers the activity itself crashing or timing out. */
const CRASH_RETRY = Object.assign(new df.RetryOptions(5_000, 3), { backoffCoefficient: 2 });

export interface WaveProgress {
  chunks: number;
  rowsCommitted: number;
  rowsRejected: number;
}

/**
 * Commits chunks [from, to) in waves of at most `maxChunksInFlight` activities. Waves rather than a sliding
 * window: re-yielding tasks inside a new Task.any makes the extension schedule them twice
 * (Azure/azure-functions-durable-js#574). Every activity returns a result object, so one bad chunk never
 * fails the wave fast; transient failures are retried in a later wave after a durable-timer backoff.
 */
export function* commitChunkWaves(
  context: OrchestrationContext,
  input: ChunkRangeInput,
  onWave: (progress: WaveProgress, total: ChunkRangeResult) => void,
): Generator<Task, ChunkRangeResult, CommitResult[]> {
  const total: ChunkRangeResult = { chunksDone: 0, rowsCommitted: 0, rowsRejected: 0 };
  const queue: number[] = [];
  for (let chunkNo = input.from; chunkNo < input.to; chunkNo++) queue.push(chunkNo);
  const attempts = new Map<number, number>();
  while (queue.length > 0) {
    const wave = queue.splice(0, Math.max(1, input.maxChunksInFlight));
    const results = yield context.df.Task.all(
      wave.map((chunkNo) =>
        context.df.callActivityWithRetry(functionNames.commitChunk, CRASH_RETRY, { uploadId: input.uploadId, chunkNo }),
      ),
    );
    const progress: WaveProgress = { chunks: 0, rowsCommitted: 0, rowsRejected: 0 };
    const retry: number[] = [];
    for (const result of results) {
      if (result.ok) {
        progress.chunks++;
        progress.rowsCommitted += result.rowsCommitted;
        progress.rowsRejected += result.rowsRejected;
        continue;
      }
      // Busy (the global commit bound is reached) is back-pressure, not a failure: it never uses up attempts.
      const attempt = (attempts.get(result.chunkNo) ?? 1) + (result.code === BUSY ? 0 : 1);
      attempts.set(result.chunkNo, attempt);
      if (!result.transient || attempt > MAX_TRANSIENT_ATTEMPTS) {
        total.failure = {
          chunkNo: result.chunkNo,
          code: result.code,
          message: result.transient ? `${result.message} (gave up after ${MAX_TRANSIENT_ATTEMPTS} attempts)` : result.message,
        };
      } else {
        retry.push(result.chunkNo);
      }
    }
    total.chunksDone += progress.chunks;
    total.rowsCommitted += progress.rowsCommitted;
    total.rowsRejected += progress.rowsRejected;
    onWave(progress, total);
    if (total.failure) return total;
    if (retry.length > 0) {
      const worst = Math.max(...retry.map((chunkNo) => attempts.get(chunkNo) ?? 1));
      const delay = worst <= 1 ? BUSY_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (worst - 2));
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delay));
      queue.unshift(...retry);
    }
  }
  return total;
}
