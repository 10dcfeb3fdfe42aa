import type pg from 'pg';
import { withTransaction } from './db.js';
import { markUploadFailed, type FailureReason } from './uploadFailure.js';
import { outcome, readUpload, type ActivationResult } from './uploadOutcome.js';

/**
 * Fails an upload that cannot finish (a chunk failed for good, e.g. its blob changed after registration).
 * Keeps its error rows, writes the failure event, never changes which upload is active. Idempotent.
 */
export async function failUpload(pool: pg.Pool, uploadId: string, reason: FailureReason): Promise<ActivationResult> {
  return withTransaction(pool, async (client) => {
    await markUploadFailed(client, uploadId, reason);
    return outcome(await readUpload(client, uploadId));
  });
}
