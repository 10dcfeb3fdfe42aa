import { isFinal, registerUpload } from '../engine/index.js';
import { appSettings, db } from '../adapters/runtime.js';
import type { IngestInput, RegisterResult } from '../ingestContracts.js';

/** Idempotent by blob identity: a redelivered start finds the upload it registered before. */
export async function registerUploadActivity(input: IngestInput): Promise<RegisterResult> {
  const registration = await registerUpload(await db(), input);
  return {
    uploadId: registration.uploadId,
    status: registration.status,
    finished: isFinal(registration.status),
    maxChunksInFlight: appSettings().ingest.maxChunksInFlight,
  };
}
