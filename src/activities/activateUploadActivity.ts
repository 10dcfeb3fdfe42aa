import { activateUpload, type ActivationResult } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import type { ActivateResult, UploadRef } from '../ingestContracts.js';

/** All chunks are in: resolve duplicates, apply the rejected-row policy and switch the state's active upload atomically. */
export function makeActivateUploadActivity({ db, settings }: Pick<AppClients, 'db' | 'settings'>) {
  return async function activateUploadActivity(input: UploadRef): Promise<ActivateResult> {
    const { maxRejectedShare, maxErrorRows } = settings().ingest;
    return activateResult(await activateUpload(await db(), input.uploadId, { maxRejectedShare, maxErrorRows }));
  };
}

/** The engine's outcome as it crosses the durable boundary (shared with failUploadActivity). */
export function activateResult(result: ActivationResult): ActivateResult {
  return {
    status: result.status,
    rowsCommitted: result.rowsCommitted,
    rowsRejected: result.rowsRejected,
    ...(result.errorMessage ? { reason: result.errorMessage } : {}),
  };
}
