import { activateUpload as activate, failUpload as fail, type ActivationResult } from '../engine/index.js';
import { appSettings, db } from '../adapters/runtime.js';
import type { ActivateResult } from '../ingestContracts.js';

/** All chunks are in: resolve duplicates, apply the rejected-row policy and switch the state's active upload atomically. */
export async function activateUpload(input: { uploadId: string }): Promise<ActivateResult> {
  const { maxRejectedShare, maxErrorRows } = appSettings().ingest;
  return toResult(await activate(await db(), input.uploadId, { maxRejectedShare, maxErrorRows }));
}

/** A chunk failed for good: the upload fails, keeps its error rows, and the active upload stays as it was. */
export async function failUpload(input: { uploadId: string; code: string; message: string }): Promise<ActivateResult> {
  return toResult(await fail(await db(), input.uploadId, { code: input.code, message: input.message }));
}

function toResult(result: ActivationResult): ActivateResult {
  return {
    status: result.status,
    rowsCommitted: result.rowsCommitted,
    rowsRejected: result.rowsRejected,
    ...(result.errorMessage ? { reason: result.errorMessage } : {}),
  };
}
