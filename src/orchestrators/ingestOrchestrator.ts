import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { functionNames } from '../functionNames.js';
import {
  CHUNKS_PER_SUB_ORCHESTRATION,
  type ActivateResult,
  type ChunkRangeInput,
  type ChunkRangeResult,
  type IngestInput,
  type IngestOutput,
  type IngestStatus,
  type PlanResult,
  type RegisterResult,
} from '../ingestContracts.js';
import { commitChunkWaves } from './commitChunkWaves.js';

/** Database or storage hiccups during the one-off steps: a few retries with backoff, then the upload fails. */
const STEP_RETRY = Object.assign(new df.RetryOptions(2_000, 5), { backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 30_000 });

/**
 * One upload, as the product's steps: register -> plan -> commit chunks -> activate (or fail) -> publish.
 * Deterministic: no clock, randomness or I/O here; activities do the work and return ids and counts.
 */
export function* ingestOrchestrator(context: OrchestrationContext): Generator<df.Task, IngestOutput, any> {
  const input = context.df.getInput<IngestInput>();
  const status: IngestStatus = { phase: 'registering', chunksDone: 0, chunksTotal: 0, rowsCommitted: 0, rowsRejected: 0 };
  const report = (changes: Partial<IngestStatus>) => context.df.setCustomStatus(Object.assign(status, changes));
  report({});

  const registered: RegisterResult = yield context.df.callActivityWithRetry(functionNames.registerUpload, STEP_RETRY, input);
  const { uploadId } = registered;
  if (registered.finished) {
    report({ phase: 'done' });
    return { uploadId, status: registered.status, rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0 };
  }
  const progress = new df.EntityId(functionNames.uploadProgress, uploadId);

  report({ phase: 'planning' });
  let plan: PlanResult;
  try {
    plan = yield context.df.callActivityWithRetry(functionNames.planUpload, STEP_RETRY, { uploadId });
  } catch (error) {
    // Transient faults outlasted the retries: record why, keep the active upload.
    const message = `planning failed: ${(error as Error).message}`;
    yield context.df.callActivityWithRetry(functionNames.failUpload, STEP_RETRY, { uploadId, code: 'plan_failed', message });
    return yield* finish(context, progress, status, { uploadId, status: 'failed', rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0, reason: message });
  }
  if (!plan.ok) {
    return yield* finish(context, progress, status, {
      uploadId, status: 'failed', rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0, reason: plan.message,
    });
  }
  context.df.signalEntity(progress, 'started', { chunksTotal: plan.chunksTotal, rowsTotal: plan.rowsTotal });
  report({ phase: 'committing', chunksTotal: plan.chunksTotal });

  const committed = yield* commitAllChunks(context, uploadId, plan.chunksTotal, registered.maxChunksInFlight, (total) =>
    report({ chunksDone: total.chunksDone, rowsCommitted: total.rowsCommitted, rowsRejected: total.rowsRejected }),
  );

  let outcome: ActivateResult;
  if (committed.failure) {
    const { chunkNo, code, message } = committed.failure;
    report({ phase: 'activating' });
    outcome = yield context.df.callActivityWithRetry(functionNames.failUpload, STEP_RETRY, {
      uploadId, code, message: `chunk ${chunkNo}: ${message}`,
    });
  } else {
    report({ phase: 'activating' });
    outcome = yield context.df.callActivityWithRetry(functionNames.activateUpload, STEP_RETRY, { uploadId });
  }
  return yield* finish(context, progress, status, {
    uploadId,
    status: outcome.status,
    rowsCommitted: outcome.rowsCommitted,
    rowsRejected: outcome.rowsRejected,
    chunksTotal: plan.chunksTotal,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
  });
}

/** Small uploads commit in this orchestration; large ones in sub-orchestrations of at most 500 chunks, one after another. */
function* commitAllChunks(
  context: OrchestrationContext,
  uploadId: string,
  chunksTotal: number,
  maxChunksInFlight: number,
  onProgress: (total: ChunkRangeResult) => void,
): Generator<df.Task, ChunkRangeResult, any> {
  const progress = new df.EntityId(functionNames.uploadProgress, uploadId);
  if (chunksTotal <= CHUNKS_PER_SUB_ORCHESTRATION) {
    return yield* commitChunkWaves(context, { uploadId, from: 0, to: chunksTotal, maxChunksInFlight }, (wave, total) => {
      context.df.signalEntity(progress, 'chunksCommitted', wave);
      onProgress(total);
    });
  }
  const total: ChunkRangeResult = { chunksDone: 0, rowsCommitted: 0, rowsRejected: 0 };
  for (let from = 0; from < chunksTotal; from += CHUNKS_PER_SUB_ORCHESTRATION) {
    const range: ChunkRangeInput = { uploadId, from, to: Math.min(chunksTotal, from + CHUNKS_PER_SUB_ORCHESTRATION), maxChunksInFlight };
    const block: ChunkRangeResult = yield context.df.callSubOrchestrator(
      functionNames.ingestChunksOrchestrator, range, `${context.df.instanceId}:chunks-${from}`,
    );
    total.chunksDone += block.chunksDone;
    total.rowsCommitted += block.rowsCommitted;
    total.rowsRejected += block.rowsRejected;
    onProgress(total);
    if (block.failure) return { ...total, failure: block.failure };
  }
  return total;
}

function* finish(
  context: OrchestrationContext,
  progress: df.EntityId,
  status: IngestStatus,
  output: IngestOutput,
): Generator<df.Task, IngestOutput, any> {
  context.df.signalEntity(progress, 'finished', {
    status: output.status, rowsCommitted: output.rowsCommitted, rowsRejected: output.rowsRejected,
    ...(output.reason ? { reason: output.reason } : {}),
  });
  context.df.setCustomStatus(Object.assign(status, { phase: 'publishing' }));
  // Delivery failures leave the event in the outbox for the sweeper; this never fails the upload.
  yield context.df.callActivity(functionNames.publishOutbox, { uploadId: output.uploadId });
  // The raw file is personal data and no longer needed. Storage refusing is retried here, then by housekeeping;
  // the outcome above stands either way.
  try {
    yield context.df.callActivityWithRetry(functionNames.deleteUploadBlob, STEP_RETRY, { uploadId: output.uploadId });
  } catch {
    // housekeeping deletes it on its next run
  }
  context.df.setCustomStatus(Object.assign(status, { phase: 'done' }));
  return output;
}
