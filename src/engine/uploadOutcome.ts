import type pg from 'pg';
import type { FinalStatus, UploadStatus } from './uploadStatus.js';

/** Where an upload ended, as activation and failing report it. */
export interface ActivationResult {
  uploadId: string;
  state: string;
  /** complete (active), failed, or superseded (replaced by, or older than, another upload of its state). */
  status: FinalStatus;
  /** True while this upload is the active one of its state. */
  activated: boolean;
  rowsTotal: number;
  rowsCommitted: number;
  rowsRejected: number;
  errorCode: string | null;
  errorMessage: string | null;
}

/** The columns of bulkflow.uploads that activation reads. */
export interface UploadRow {
  upload_id: string;
  seq: string;
  state: string;
  source: string;
  status: UploadStatus;
  planned_at: Date | null;
  finalized_at: Date | null;
  rows_total: string | null;
  rows_committed: string | null;
  rows_rejected: string | null;
  error_code: string | null;
  error_message: string | null;
  superseded_by: string | null;
}

export async function readUpload(db: pg.Pool | pg.PoolClient, uploadId: string, forUpdate = false): Promise<UploadRow> {
  const { rows } = await db.query<UploadRow>(
    `SELECT upload_id, seq, state, source, status, planned_at, finalized_at, rows_total, rows_committed, rows_rejected,
            error_code, error_message, superseded_by
     FROM bulkflow.uploads WHERE upload_id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`,
    [uploadId],
  );
  if (!rows[0]) throw new Error(`unknown upload ${uploadId}`);
  return rows[0];
}

/** The result of an upload whose row is final. */
export function outcome(upload: UploadRow): ActivationResult {
  return {
    uploadId: upload.upload_id,
    state: upload.state,
    status: upload.status as FinalStatus,
    activated: upload.status === 'complete',
    rowsTotal: Number(upload.rows_total ?? 0),
    rowsCommitted: Number(upload.rows_committed ?? 0),
    rowsRejected: Number(upload.rows_rejected ?? 0),
    errorCode: upload.error_code,
    errorMessage: upload.error_message,
  };
}
