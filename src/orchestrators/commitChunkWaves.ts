import { BUSY, type ChunkFailure, type ChunkRange, type ChunkRangeResult } from '../ingestContracts.js';
import type { Dispatcher, Step } from './dispatcher.js';
import type { ProgressReporter } from './progressReporter.js';

/** Attempts per chunk for classified transient failures (connection reset, failover, too many connections...). */
const MAX_TRANSIENT_ATTEMPTS = 8;
const FIRST_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 60_000;
/** Wait before retrying chunks that found every global commit slot taken. */
const BUSY_BACKOFF_MS = 1_000;

/**
 * Commits chunks [from, to) in waves of at most `maxChunksInFlight` activities. Waves rather than a sliding
 * window: re-yielding tasks inside a new Task.any makes the extension schedule them twice
 * (Azure/azure-functions-durable-js#574). Every activity returns a result object, so one bad chunk never
 * fails the wave fast; transient failures are retried in a later wave after a durable-timer backoff.
 */
export function* commitChunkWaves(calls: Dispatcher, progress: ProgressReporter, range: ChunkRange): Step<ChunkRangeResult> {
  const queue: number[] = [];
  for (let chunkNo = range.from; chunkNo < range.to; chunkNo++) queue.push(chunkNo);
  const attempts = new Map<number, number>();
  while (queue.length > 0) {
    const wave = queue.splice(0, Math.max(1, range.maxChunksInFlight));
    const results = yield* calls.callAll('commitChunk', wave.map((chunkNo) => ({ uploadId: range.uploadId, chunkNo })));
    progress.committed(results);
    let failure: ChunkFailure | undefined;
    const retry: number[] = [];
    for (const result of results) {
      if (result.ok) continue;
      // Busy (the global commit bound is reached) is back-pressure, not a failure: it never uses up attempts.
      const attempt = (attempts.get(result.chunkNo) ?? 1) + (result.code === BUSY ? 0 : 1);
      attempts.set(result.chunkNo, attempt);
      if (!result.transient || attempt > MAX_TRANSIENT_ATTEMPTS) {
        failure = {
          chunkNo: result.chunkNo,
          code: result.code,
          message: result.transient ? `${result.message} (gave up after ${MAX_TRANSIENT_ATTEMPTS} attempts)` : result.message,
        };
      } else {
        retry.push(result.chunkNo);
      }
    }
    if (failure) return { ...progress.counts, failure };
    if (retry.length > 0) {
      const worst = Math.max(...retry.map((chunkNo) => attempts.get(chunkNo) ?? 1));
      yield* calls.wait(worst <= 1 ? BUSY_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (worst - 2)));
      queue.unshift(...retry);
    }
  }
  return progress.counts;
}
