import type pg from 'pg';
import { uploadTable, withTransaction } from './db.js';

export interface CleanupOptions {
  /** Keep a superseded or failed upload's rows this long after it stopped being useful. */
  retentionMs: number;
}

export interface CleanupResult {
  cleaned: string[];
  /** Uploads whose table was in use by a long reader; tried again next time. */
  skipped: string[];
}

/**
 * Drops the participants tables of superseded and failed uploads once a newer upload of their
 * state is active and the retention has passed, and deletes their error rows and key filters. Dropping a
 * partition costs the same whatever its size. The active upload is never touched.
 */
export async function cleanupUploads(pool: pg.Pool, options: CleanupOptions): Promise<CleanupResult> {
  const { rows } = await pool.query<{ upload_id: string }>(
    `SELECT u.upload_id FROM bulkflow.uploads u
     JOIN bulkflow.active_uploads a ON a.state = u.state
     JOIN bulkflow.uploads active ON active.upload_id = a.upload_id
     WHERE u.cleaned_at IS NULL AND u.upload_id <> a.upload_id AND active.seq > u.seq
       AND u.status IN ('superseded', 'failed')
       AND coalesce(u.superseded_at, u.failed_at) <= now() - $1 * interval '1 millisecond'
     ORDER BY u.seq`,
    [options.retentionMs],
  );
  const result: CleanupResult = { cleaned: [], skipped: [] };
  for (const { upload_id: uploadId } of rows) {
    try {
      await withTransaction(pool, async (client) => {
        // Dropping a partition locks its parent briefly; do not queue behind a long reader.
        await client.query(`SET LOCAL lock_timeout = '2s'`);
        await client.query(`DROP TABLE IF EXISTS ${uploadTable(uploadId).qualified}`);
        await client.query('DELETE FROM bulkflow.row_errors WHERE upload_id = $1', [uploadId]);
        await client.query('DELETE FROM bulkflow.upload_key_filters WHERE upload_id = $1', [uploadId]);
        await client.query(`UPDATE bulkflow.uploads SET cleaned_at = now() WHERE upload_id = $1`, [uploadId]);
      });
      result.cleaned.push(uploadId);
    } catch (error) {
      if ((error as { code?: string }).code !== '55P03') throw error;
      result.skipped.push(uploadId);
    }
  }
  return result;
}
