import type { InvocationContext } from '@azure/functions';
import { publishNowOrDefer } from '../adapters/eventPublisher.js';
import { activateUpload, IncompleteUploadError, OPS_LOG, type ActivationResult } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import { CHUNKS_MISSING, type ActivateResult, type ChunksMissing, type UploadRef } from '../ingestContracts.js';

/**
 * All chunks are in: resolve duplicates, apply the rejected-row policy and switch the state's active upload atomically.
 * Chunks found missing (commits a database failover lost) go back to the orchestrator to be committed again.
 */
export function makeActivateUploadActivity({ db, settings, publishPendingEvents }: Pick<AppClients, 'db' | 'settings' | 'publishPendingEvents'>) {
  return async function activateUploadActivity(input: UploadRef, context: InvocationContext): Promise<ActivateResult | ChunksMissing> {
    const { maxRejectedShare, maxErrorRows } = settings().ingest;
    let result: ActivationResult;
    try {
      result = await activateUpload(await db(), input.uploadId, { maxRejectedShare, maxErrorRows });
    } catch (error) {
      if (!(error instanceof IncompleteUploadError)) throw error;
      const { missingChunks, committed: { chunksCommitted, rowsCommitted, rowsRejected } } = error;
      context.warn(`chunks missing at activation: upload=${input.uploadId} chunks=${missingChunks.length} (the orchestrator commits them again)`);
      return { status: CHUNKS_MISSING, missingChunks, committed: { chunksDone: chunksCommitted, rowsCommitted, rowsRejected } };
    }
    // The completion event (written with the activation) goes out now, not after the orchestration's next two queue
    // hops (up to maxQueuePollingInterval each when the hub is idle): match analysis starts seconds sooner. The
    // orchestration's publish step still runs and finds it sent, or sends it.
    await publishNowOrDefer(publishPendingEvents, context, 'activation');
    return reported(context, input.uploadId, result);
  };
}

/** The outcome, with the warning the "upload failed" alert counts when the upload failed (ids only). */
export function reported(context: InvocationContext, uploadId: string, result: ActivationResult): ActivateResult {
  if (result.status === 'failed') context.warn(`${OPS_LOG.uploadFailed} upload=${uploadId} state=${uploadId.slice(0, 2).toUpperCase()}`);
  return activateResult(result);
}

/** The engine's outcome as it crosses the durable boundary. */
function activateResult(result: ActivationResult): ActivateResult {
  return {
    status: result.status,
    rowsCommitted: result.rowsCommitted,
    rowsRejected: result.rowsRejected,
    ...(result.errorMessage ? { reason: result.errorMessage } : {}),
  };
}
