import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { functionNames } from '../functionNames.js';
import type { ChunkRangeInput } from '../ingestContracts.js';
import { commitChunkWaves } from './commitChunkWaves.js';

/** Commits one block of at most 500 chunks, so no single history grows with the file. */
export function* ingestChunksOrchestrator(context: OrchestrationContext) {
  const input = context.df.getInput<ChunkRangeInput>();
  const progress = new df.EntityId(functionNames.uploadProgress, input.uploadId);
  return yield* commitChunkWaves(context, input, (wave, total) => {
    context.df.signalEntity(progress, 'chunksCommitted', wave);
    context.df.setCustomStatus({ chunksDone: total.chunksDone, chunksTotal: input.to - input.from });
  });
}
