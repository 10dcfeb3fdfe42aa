import { type BlobDeletion, deleteUploadBlob } from '../engine/index.js';
import { uploadBlobRemover } from '../adapters/uploadBlobRemover.js';
import type { AppClients } from '../composition.js';
import type { UploadRef } from '../ingestContracts.js';

const HOUR_MS = 3_600_000;

/**
 * The upload is final: its raw file goes now when UPLOAD_BLOB_RETENTION_HOURS is 0 ('not-due' otherwise;
 * housekeeping deletes it once the retention has passed). Throws while storage refuses, so it is retried.
 */
export function makeDeleteUploadBlobActivity({ db, settings, uploadStorage }: Pick<AppClients, 'db' | 'settings' | 'uploadStorage'>) {
  return async function deleteUploadBlobActivity(input: UploadRef): Promise<BlobDeletion> {
    return deleteUploadBlob(await db(), input.uploadId, uploadBlobRemover(uploadStorage()), {
      retentionMs: settings().uploadBlobRetentionHours * HOUR_MS,
    });
  };
}
