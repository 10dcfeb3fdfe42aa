import { registerUpload as register } from '../engine/index.js';
import { appSettings, db } from '../adapters/runtime.js';
import type { IngestInput, RegisterResult } from '../ingestContracts.js';

const FINAL = new Set(['complete', 'failed', 'superseded']);

/** Idempotent by blob identity: a redelivered start finds the upload it registered before. */
export async function registerUpload(input: IngestInput): Promise<RegisterResult> {
  const registration = await register(await db(), input);
  return {
    uploadId: registration.uploadId,
    status: registration.status,
    finished: FINAL.has(registration.status),
    maxChunksInFlight: appSettings().ingest.maxChunksInFlight,
  };
}
