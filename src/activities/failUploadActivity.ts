import { failUpload } from '../engine/index.js';
import { db } from '../adapters/runtime.js';
import type { ActivateResult, FailInput } from '../ingestContracts.js';
import { activateResult } from './activateUploadActivity.js';

/** A chunk failed for good: the upload fails, keeps its error rows, and the active upload stays as it was. */
export async function failUploadActivity(input: FailInput): Promise<ActivateResult> {
  return activateResult(await failUpload(await db(), input.uploadId, { code: input.code, message: input.message }));
}
