import type pg from 'pg';
import { UPLOAD_FAILED } from './eventData.js';
import { writeUploadEvent } from './outbox.js';

export interface FailureReason {
  code: string;
  message: string;
  /** The file's line, for whole-file errors that have one. */
  line?: number;
}

/**
 * The one way an upload fails, in the caller's transaction: status, reason and the failure event, whose counts are
 * those recorded so far (none before planning, exact ones after activation counted them). Only an upload that is
 * not final fails, and with `unplannedOnly` only one whose plan is not stored (a concurrent planner may have won).
 */
export async function markUploadFailed(
  client: pg.PoolClient,
  uploadId: string,
  reason: FailureReason,
  options: { unplannedOnly?: boolean } = {},
): Promise<void> {
  const { rows } = await client.query<{
    state: string; source: string; rows_total: string | null; rows_committed: string | null; rows_rejected: string | null;
  }>(
    `UPDATE bulkflow.uploads SET status = 'failed', failed_at = now(), error_code = $2, error_message = $3, error_line = $4
     WHERE upload_id = $1 AND status IN ('pending', 'running')${options.unplannedOnly ? ' AND planned_at IS NULL' : ''}
     RETURNING state, source, rows_total, rows_committed, rows_rejected`,
    [uploadId, reason.code, reason.message, reason.line ?? null],
  );
  const failed = rows[0];
  if (!failed) return;
  const count = (value: string | null) => (value === null ? null : Number(value));
  await writeUploadEvent(client, UPLOAD_FAILED, {
    uploadId, state: failed.state, source: failed.source, status: 'failed', activated: false,
    rowsTotal: count(failed.rows_total), rowsCommitted: count(failed.rows_committed), rowsRejected: count(failed.rows_rejected),
    errorCode: reason.code, ...(reason.line === undefined ? {} : { errorLine: reason.line }),
  });
}
