import type pg from 'pg';

/** The blob version an upload was registered with (what its raw file is). */
export interface UploadBlob {
  uploadId: string;
  state: string;
  source: string;
  etag: string;
}

/**
 * Deletes that blob version: 'deleted', or 'gone' when it no longer exists as registered (deleted already, or
 * replaced by a newer version, which belongs to its own upload and stays). Throws when storage refused or was
 * unreachable: the caller tries again later.
 */
export type BlobRemover = (blob: UploadBlob) => Promise<'deleted' | 'gone'>;

const FINAL_AT = `coalesce(u.failed_at, u.superseded_at, u.completed_at)`;

/**
 * Final uploads (complete, failed, superseded) whose raw file is still stored and whose retention has passed,
 * oldest first. Status, counts and row errors stay in PostgreSQL; only the uploaded file goes.
 */
export async function uploadBlobsDue(pool: pg.Pool, options: { retentionMs: number; limit: number; uploadId?: string }): Promise<UploadBlob[]> {
  const { rows } = await pool.query<{ upload_id: string; state: string; source: string; etag: string }>(
    `SELECT u.upload_id, u.state, u.source, u.etag FROM bulkflow.uploads u
     WHERE u.blob_deleted_at IS NULL AND u.status IN ('complete', 'failed', 'superseded')
       AND ${FINAL_AT} <= now() - $1 * interval '1 millisecond' AND ($3::text IS NULL OR u.upload_id = $3)
     ORDER BY ${FINAL_AT} LIMIT $2`,
    [options.retentionMs, options.limit, options.uploadId ?? null],
  );
  return rows.map((row) => ({ uploadId: row.upload_id, state: row.state, source: row.source, etag: row.etag }));
}

export type BlobDeletion = 'deleted' | 'gone' | 'not-due';

/**
 * Deletes one upload's raw file if the upload is final and its retention has passed, and records it. Never
 * changes the upload's status: a failure leaves blob_deleted_at empty for the next attempt.
 */
export async function deleteUploadBlob(pool: pg.Pool, uploadId: string, remove: BlobRemover, options: { retentionMs: number }): Promise<BlobDeletion> {
  const [due] = await uploadBlobsDue(pool, { retentionMs: options.retentionMs, limit: 1, uploadId });
  if (!due) return 'not-due';
  const outcome = await remove(due);
  await markBlobDeleted(pool, uploadId);
  return outcome;
}

export interface BlobSweep {
  removed: number;
  /** Deletions storage refused or could not answer; tried again on the next sweep. */
  failed: number;
}

/** Deletes every raw file that is due (housekeeping): those kept for a retention, and earlier failed deletions. */
export async function sweepUploadBlobs(pool: pg.Pool, remove: BlobRemover, options: { retentionMs: number; limit?: number }): Promise<BlobSweep> {
  const result: BlobSweep = { removed: 0, failed: 0 };
  for (const blob of await uploadBlobsDue(pool, { retentionMs: options.retentionMs, limit: options.limit ?? 500 })) {
    try {
      await remove(blob);
      await markBlobDeleted(pool, blob.uploadId);
      result.removed += 1;
    } catch {
      result.failed += 1;
    }
  }
  return result;
}

async function markBlobDeleted(pool: pg.Pool, uploadId: string): Promise<void> {
  await pool.query('UPDATE bulkflow.uploads SET blob_deleted_at = now() WHERE upload_id = $1 AND blob_deleted_at IS NULL', [uploadId]);
}
