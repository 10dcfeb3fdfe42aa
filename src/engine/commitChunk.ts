import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ByteSource } from './byteSource.js';
import { COPY_COLUMNS, COPY_OPTIONS, CopyEncoder, type RowReject } from './copyEncoder.js';
import { LOCK_CLASS, lockUpload } from './advisoryLocks.js';
import { uploadTable, withTransaction } from './db.js';
import { classifyError, CommitSlotsBusyError, PermanentError, TransientError } from './errors.js';
import { DEFAULT_MAX_ERROR_ROWS, DEFAULT_MAX_LINE_BYTES } from './ingestPolicy.js';
import { fieldCountMessage, ROW_ERROR_MESSAGES } from './participantSchema.js';

export interface ChunkRef {
  uploadId: string;
  chunkNo: number;
}

export interface ChunkResult extends ChunkRef {
  rowsCommitted: number;
  rowsRejected: number;
  /** True when the chunk was committed before (a retried or duplicated call): nothing was done. */
  alreadyCommitted: boolean;
}

export interface CommitOptions {
  /** Stored error rows per upload (counts stay exact beyond it). */
  maxErrorRows?: number;
  maxLineBytes?: number;
  /** How long to wait for the plan to cut this chunk before giving up (transiently). */
  planWaitMs?: number;
  /**
   * Commits allowed at once across all uploads and processes sharing this database. The slot is a
   * transaction-level advisory lock, so it is released with the commit, also when a process dies.
   */
  commitSlots?: number;
}

const DEFAULT_PLAN_WAIT_MS = 5 * 60_000;
/** Planning cuts an 8 MiB chunk in well under a second; a commit waiting for one looks this often. */
const PLAN_POLL_MS = 50;

/**
 * Loads one planned chunk in ONE transaction: every row is checked against the column rules as it
 * streams past, valid rows go by COPY straight into the upload's (index-less) table, rejected ones
 * are recorded as (line, column, code, message) without values, and the chunk's ledger row is
 * written. Idempotent per chunk. The commit waits for its WAL flush: without it (synchronous_commit off) a chunk's
 * COMMIT took 1.4 instead of 12.7 ms, but no benchmark moved (the commits are CPU-bound; README, Benchmarks).
 * Throws only TransientError or PermanentError (infrastructure); bad rows never fail the chunk.
 */
export async function commitChunk(pool: pg.Pool, ref: ChunkRef, source: ByteSource, options: CommitOptions = {}): Promise<ChunkResult> {
  try {
    await untilPlanned(pool, ref, options.planWaitMs ?? DEFAULT_PLAN_WAIT_MS);
    return await withTransaction(pool, (client) => commitInTransaction(client, ref, source, options));
  } catch (error) {
    throw classifyError(error, `commit of chunk ${ref.chunkNo} of upload ${ref.uploadId}`);
  }
}

async function commitInTransaction(client: pg.PoolClient, ref: ChunkRef, source: ByteSource, options: CommitOptions): Promise<ChunkResult> {
  const { uploadId, chunkNo } = ref;
  await lockUpload(client, uploadId, chunkNo);
  const done = await client.query<{ rows_committed: number; rows_rejected: number }>(
    'SELECT rows_committed, rows_rejected FROM bulkflow.chunk_ledger WHERE upload_id = $1 AND chunk_no = $2',
    [uploadId, chunkNo],
  );
  if (done.rows[0]) {
    return { uploadId, chunkNo, rowsCommitted: done.rows[0].rows_committed, rowsRejected: done.rows[0].rows_rejected, alreadyCommitted: true };
  }
  if (options.commitSlots) await takeCommitSlot(client, chunkNo, options.commitSlots);
  const planned = await client.query<{ header: string[]; byte_start: string; byte_end: string; first_line: number; rows: number }>(
    `SELECT u.header, c.byte_start, c.byte_end, c.first_line, c.rows
     FROM bulkflow.upload_chunks c JOIN bulkflow.uploads u USING (upload_id)
     WHERE c.upload_id = $1 AND c.chunk_no = $2`,
    [uploadId, chunkNo],
  );
  const chunk = planned.rows[0];
  if (!chunk) throw new PermanentError(`chunk ${chunkNo} of upload ${uploadId} is not planned`);
  const table = uploadTable(uploadId).qualified;
  const encoder = new CopyEncoder({
    startOffset: Number(chunk.byte_start),
    startLine: chunk.first_line,
    maxRecordBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    header: chunk.header,
  });
  const copy = client.query(copyFrom(`COPY ${table} (${COPY_COLUMNS.join(', ')}) FROM STDIN ${COPY_OPTIONS}`));
  await pipeline(source.stream(Number(chunk.byte_start), Number(chunk.byte_end)), encoder, copy);
  if (encoder.records !== chunk.rows) {
    throw new PermanentError(`chunk ${chunkNo} of upload ${uploadId} holds ${encoder.records} rows, planned ${chunk.rows}: the file changed`);
  }

  const cap = options.maxErrorRows ?? DEFAULT_MAX_ERROR_ROWS;
  const rejects = encoder.rejects;
  if (rejects.length > 0) {
    // Counts stay exact; stored rows stop at the cap (checked cheaply, trimmed exactly at activation).
    const stored = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT 1 FROM bulkflow.row_errors WHERE upload_id = $1 LIMIT $2) e',
      [uploadId, cap],
    );
    const kept = rejects.slice(0, Math.max(0, cap - stored.rows[0]!.n));
    await client.query(
      `INSERT INTO bulkflow.row_errors (upload_id, line, "column", code, message)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[])`,
      [uploadId, kept.map((r) => r.line), kept.map((r) => r.column), kept.map((r) => r.code), kept.map((r) => rowErrorMessage(r, chunk.header.length))],
    );
  }
  const errorCounts: Record<string, number> = {};
  for (const r of rejects) errorCounts[r.code] = (errorCounts[r.code] ?? 0) + 1;
  const rowsRejected = encoder.rowsRejected;
  const rowsCommitted = chunk.rows - rowsRejected;
  await client.query(
    `INSERT INTO bulkflow.chunk_ledger (upload_id, chunk_no, rows_committed, rows_rejected, error_counts) VALUES ($1, $2, $3, $4, $5)`,
    [uploadId, chunkNo, rowsCommitted, rowsRejected, JSON.stringify(errorCounts)],
  );
  return { uploadId, chunkNo, rowsCommitted, rowsRejected, alreadyCommitted: false };
}

/**
 * Chunks are committed while the plan is still cutting them: waits until this one is stored, or the plan has
 * ended without it (the transaction then finds it unplanned), outside any transaction and commit slot.
 */
async function untilPlanned(pool: pg.Pool, { uploadId, chunkNo }: ChunkRef, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { rows: [upload] } = await pool.query<{ stored: boolean; ended: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM bulkflow.upload_chunks WHERE upload_id = $1 AND chunk_no = $2) AS stored,
              planned_at IS NOT NULL OR status NOT IN ('pending', 'running') AS ended
       FROM bulkflow.uploads WHERE upload_id = $1`,
      [uploadId, chunkNo],
    );
    if (!upload || upload.stored || upload.ended) return;
    if (Date.now() >= deadline) throw new TransientError(`chunk ${chunkNo} of upload ${uploadId} not planned after ${waitMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, PLAN_POLL_MS));
  }
}

function rowErrorMessage(reject: RowReject, headerFields: number): string {
  if (reject.code === 'field_count') return fieldCountMessage(reject.fields ?? 0, headerFields);
  return ROW_ERROR_MESSAGES[`${reject.column ?? ''}:${reject.code}`]!;
}

/** Takes one of `slots` transaction-level advisory locks, or throws CommitSlotsBusyError. */
async function takeCommitSlot(client: pg.PoolClient, chunkNo: number, slots: number): Promise<void> {
  for (let i = 0; i < slots; i++) {
    const slot = (chunkNo + i) % slots; // start at different slots so chunks do not all probe slot 0 first
    const { rows } = await client.query<{ taken: boolean }>(
      'SELECT pg_try_advisory_xact_lock(hashtext($1), $2) AS taken',
      [LOCK_CLASS.commitSlot, slot],
    );
    if (rows[0]!.taken) return;
  }
  throw new CommitSlotsBusyError(`all ${slots} commit slots are in use`);
}
