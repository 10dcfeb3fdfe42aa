import type pg from 'pg';
import { registeredBlob, type UploadIdentity } from '../engine/index.js';
import type { UploadFile } from '../ingestContracts.js';

/**
 * An activity input as any deployed version of the app may have queued it. Inputs queued before the blob was part
 * of them name only the upload: an ingestion in flight across the deploy that added it still finds its file.
 */
export type Queued<T extends UploadFile> = Omit<T, 'blob'> & Partial<Pick<T, 'blob'>>;

/** The blob version an activity reads: the one its input names, or (an older input) the one its upload was registered for. */
export async function blobOf(input: Queued<UploadFile>, db: () => Promise<pg.Pool>): Promise<UploadIdentity> {
  return input.blob ?? registeredBlob(await db(), input.uploadId);
}
