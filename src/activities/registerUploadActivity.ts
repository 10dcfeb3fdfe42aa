import { registerUpload } from '../engine/index.js';
import { uploadSource } from '../engine/blobCreated.js';
import { appSettings, db } from '../adapters/runtime.js';
import type { IngestInput, RegisterResult } from '../ingestContracts.js';

const FINAL = new Set(['complete', 'failed', 'superseded']);

/** Idempotent by blob identity: a redelivered start finds the upload it registered before. */
export async function registerUploadActivity(input: IngestInput): Promise<RegisterResult> {
  const registration = await registerUpload(await db(), { state: input.state, source: uploadSource(input), etag: input.etag });
  return {
    uploadId: registration.uploadId,
    status: registration.status,
    finished: FINAL.has(registration.status),
    maxChunksInFlight: appSettings().ingest.maxChunksInFlight,
  };
}
