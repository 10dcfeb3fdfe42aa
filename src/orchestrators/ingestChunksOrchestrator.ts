import type { OrchestrationContext } from 'durable-functions';
import type { ChunkRangeInput, ChunkRangeResult } from '../ingestContracts.js';
import { commitChunkWaves } from './commitChunkWaves.js';
import { Dispatcher, type Step } from './dispatcher.js';
import { ProgressReporter } from './progressReporter.js';

/** Commits one block of at most 500 chunks, so no single history grows with the file; reports as its parent does. */
export function* ingestChunksOrchestrator(context: OrchestrationContext): Step<ChunkRangeResult> {
  const { progress, ...range } = context.df.getInput<ChunkRangeInput>();
  return yield* commitChunkWaves(new Dispatcher(context), new ProgressReporter(context, progress, range.uploadId), range);
}
