import type pg from 'pg';
import { ledgerTotalsSql } from './db.js';
import type { UploadWarning } from './participantSchema.js';
import type { UploadRef } from './uploadIdentity.js';
import type { UploadStatus } from './uploadStatus.js';

export interface UploadView {
  uploadId: string;
  state: string;
  source: string;
  etag: string;
  status: UploadStatus;
  active: boolean;
  registeredAt: string;
  completedAt: string | null;
  failedAt: string | null;
  supersededAt: string | null;
  supersededBy: string | null;
  sizeBytes: number | null;
  rowsTotal: number | null;
  /** Progress while running (from committed chunks), exact totals once finished. */
  rowsCommitted: number;
  rowsRejected: number;
  chunksPlanned: number;
  chunksCommitted: number;
  errorCounts: Record<string, number>;
  warnings: UploadWarning[];
  error: { code: string; message: string; line: number | null } | null;
}

const UPLOAD_SELECT = `
  SELECT u.*, a.upload_id IS NOT NULL AS active,
         (SELECT count(*) FROM bulkflow.upload_chunks c WHERE c.upload_id = u.upload_id)::int AS chunks_planned,
         l.chunks_committed, l.committed, l.rejected, l.counts
  FROM bulkflow.uploads u
  LEFT JOIN bulkflow.active_uploads a ON a.upload_id = u.upload_id
  CROSS JOIN LATERAL (${ledgerTotalsSql('u.upload_id')}
  ) l`;

/** An upload by id, or the latest registration of a source (`uploads/ca/file.csv`). */
export async function getUpload(pool: pg.Pool, ref: UploadRef): Promise<UploadView | undefined> {
  const { rows } = await pool.query(`${UPLOAD_SELECT} WHERE ${lookup('u', ref)}`, [lookupValue(ref)]);
  return rows[0] ? toView(rows[0]) : undefined;
}

/**
 * The state of the upload {@link getUpload} would return for the same reference, from the uploads table alone:
 * what the API checks before it reads anything else of an upload.
 */
export async function uploadStateOf(pool: pg.Pool, ref: UploadRef): Promise<string | undefined> {
  const { rows } = await pool.query<{ state: string }>(`SELECT u.state FROM bulkflow.uploads u WHERE ${lookup('u', ref)}`, [lookupValue(ref)]);
  return rows[0]?.state;
}

/** The one lookup rule: an id names one upload; a source names its latest registration. */
function lookup(alias: string, ref: UploadRef): string {
  return 'uploadId' in ref ? `${alias}.upload_id = $1` : `${alias}.source = $1 ORDER BY ${alias}.seq DESC LIMIT 1`;
}

function lookupValue(ref: UploadRef): string {
  return 'uploadId' in ref ? ref.uploadId : ref.source;
}

/** A state's uploads, newest registration first. */
export async function listStateUploads(pool: pg.Pool, state: string, limit = 20): Promise<UploadView[]> {
  const { rows } = await pool.query(`${UPLOAD_SELECT} WHERE u.state = $1 ORDER BY u.seq DESC LIMIT $2`, [state.toUpperCase(), limit]);
  return rows.map(toView);
}

export interface StateSummary {
  state: string;
  uploads: number;
  activeUploadId: string | null;
  /** Uploads still pending or running. */
  running: number;
  /** Null for a state asked for by name that has no uploads yet. */
  lastRegisteredAt: string | null;
}

/**
 * States with uploads, the one with the newest registration first (the operator's overview). Given `only`, just
 * those states, each listed even before its first upload (a state user's own states), after the ones with uploads.
 */
export async function listStates(pool: pg.Pool, options: { only?: readonly string[]; limit?: number } = {}): Promise<StateSummary[]> {
  const only = options.only?.map((state) => state.toUpperCase()) ?? null;
  const { rows } = await pool.query<{ state: string; uploads: number; active_upload_id: string | null; running: number; last: Date | null }>(
    `SELECT s.state, count(u.upload_id)::int AS uploads, a.upload_id AS active_upload_id,
            count(*) FILTER (WHERE u.status IN ('pending', 'running'))::int AS running, max(u.registered_at) AS last
     FROM (SELECT DISTINCT state FROM bulkflow.uploads WHERE $1::text[] IS NULL OR state = ANY($1)
           UNION SELECT unnest($1::text[])) s
     LEFT JOIN bulkflow.uploads u ON u.state = s.state
     LEFT JOIN bulkflow.active_uploads a ON a.state = s.state
     GROUP BY s.state, a.upload_id ORDER BY max(u.seq) DESC NULLS LAST, s.state LIMIT $2`,
    [only, options.limit ?? 60],
  );
  return rows.map((row) => ({
    state: row.state,
    uploads: row.uploads,
    activeUploadId: row.active_upload_id,
    running: row.running,
    lastRegisteredAt: row.last ? row.last.toISOString() : null,
  }));
}

export interface RowError {
  line: number;
  column: string | null;
  code: string;
  message: string;
}

export interface RowErrorCursor {
  line: number;
  column: string | null;
}

/** Stored row errors in (line, column) order; pass the returned `next` as `after` for the next page. */
export async function listRowErrors(
  pool: pg.Pool,
  uploadId: string,
  options: { limit?: number; after?: RowErrorCursor } = {},
): Promise<{ errors: RowError[]; next: RowErrorCursor | null }> {
  const limit = options.limit ?? 100;
  const { rows } = await pool.query<RowError>(
    `SELECT line, "column" AS column, code, message FROM bulkflow.row_errors
     WHERE upload_id = $1 AND ($2::int IS NULL OR (line, coalesce("column", '')) > ($2::int, coalesce($3::text, '')))
     ORDER BY line, coalesce("column", '') LIMIT $4`,
    [uploadId, options.after?.line ?? null, options.after?.column ?? null, limit],
  );
  const last = rows[rows.length - 1];
  return { errors: rows, next: rows.length === limit && last ? { line: last.line, column: last.column } : null };
}

function toView(row: Record<string, unknown>): UploadView {
  const settled = row.finalized_at !== null && row.rows_committed !== null;
  const time = (value: unknown) => (value instanceof Date ? value.toISOString() : null);
  const count = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  const counts = settled ? (row.error_counts as Record<string, unknown>) : (row.counts as Record<string, unknown>);
  return {
    uploadId: row.upload_id as string,
    state: row.state as string,
    source: row.source as string,
    etag: row.etag as string,
    status: row.status as UploadStatus,
    active: row.active as boolean,
    registeredAt: time(row.registered_at)!,
    completedAt: time(row.completed_at),
    failedAt: time(row.failed_at),
    supersededAt: time(row.superseded_at),
    supersededBy: (row.superseded_by as string | null) ?? null,
    sizeBytes: count(row.size_bytes),
    rowsTotal: count(row.rows_total),
    rowsCommitted: Number(settled ? row.rows_committed : row.committed),
    rowsRejected: Number(settled ? row.rows_rejected : row.rejected),
    chunksPlanned: row.chunks_planned as number,
    chunksCommitted: row.chunks_committed as number,
    errorCounts: Object.fromEntries(Object.entries(counts ?? {}).map(([key, value]) => [key, Number(value)])),
    warnings: (row.warnings as UploadWarning[]) ?? [],
    error: row.error_code
      ? { code: row.error_code as string, message: (row.error_message as string) ?? '', line: (row.error_line as number | null) ?? null }
      : null,
  };
}
