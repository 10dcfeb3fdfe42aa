import { chunkRetryDelayMs, MAX_TRANSIENT_ATTEMPTS } from '../engine/index.js';
import { BUSY, type ChunkFailure, type ChunkRange, type ChunkRangeResult, type CommitResult } from '../ingestContracts.js';
import type { Dispatcher, Step } from './dispatcher.js';
import type { ProgressReporter } from './progressReporter.js';

/**
 * Commits chunks [from, to) in waves of at most `maxChunksInFlight` activities. Waves rather than a sliding
 * window: re-yielding tasks inside a new Task.any makes the extension schedule them twice
 * (Azure/azure-functions-durable-js#574). Every activity returns a result object, so one bad chunk never
 * fails the wave fast; transient failures are retried in a later wave after a durable-timer backoff.
 * `earlier`: results of chunks outside the range committed before (chunk 0, alongside the plan), counted and,
 * when they failed transiently, retried with the first wave.
 */
export function* commitChunkWaves(calls: Dispatcher, progress: ProgressReporter, range: ChunkRange, earlier: CommitResult[] = []): Step<ChunkRangeResult> {
  const queue: number[] = [];
  for (let chunkNo = range.from; chunkNo < range.to; chunkNo++) queue.push(chunkNo);
  const attempts = new Map<number, number>();
  let carried = earlier;
  while (queue.length > 0 || carried.length > 0) {
    const wave = queue.splice(0, Math.max(1, range.maxChunksInFlight));
    const called = wave.length > 0 ? yield* calls.callAll('commitChunk', wave.map((chunkNo) => ({ uploadId: range.uploadId, blob: range.blob, chunkNo }))) : [];
    const results = [...carried, ...called];
    carried = [];
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
      yield* calls.wait(chunkRetryDelayMs(worst));
      queue.unshift(...retry);
    }
  }
  return progress.counts;
}
