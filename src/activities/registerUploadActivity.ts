import { isFinal, registerUpload } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import type { IngestInput, RegisterResult } from '../ingestContracts.js';

/** Idempotent by blob identity: a redelivered start finds the upload it registered before. */
export function makeRegisterUploadActivity({ db, settings }: Pick<AppClients, 'db' | 'settings'>) {
  return async function registerUploadActivity(input: IngestInput): Promise<RegisterResult> {
    const registration = await registerUpload(await db(), input);
    return {
      uploadId: registration.uploadId,
      status: registration.status,
      finished: isFinal(registration.status),
      maxChunksInFlight: settings().ingest.maxChunksInFlight,
    };
  };
}
