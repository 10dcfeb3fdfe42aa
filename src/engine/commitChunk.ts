import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ByteSource } from './byteSource.js';
import { CopyEncoder } from './copyEncoder.js';
import { lockUpload, uploadTable } from './db.js';
import { classifyError, PermanentError } from './errors.js';
import { COLUMN_RULES, COLUMNS, fieldCountMessage, ROW_ERROR_MESSAGES } from './participantSchema.js';
import { DEFAULT_MAX_LINE_BYTES } from './planner.js';

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
}

export const DEFAULT_MAX_ERROR_ROWS = 10_000;

/**
 * Loads one planned chunk in ONE transaction: COPY into a temp staging table, validate every row and
 * column set-based, insert valid rows typed into the upload's table, record rejected ones as
 * (line, column, code, message) without values, and write the chunk's ledger row. Idempotent per chunk.
 * Throws only TransientError or PermanentError (infrastructure); bad rows never fail the chunk.
 */
export async function commitChunk(pool: pg.Pool, ref: ChunkRef, source: ByteSource, options: CommitOptions = {}): Promise<ChunkResult> {
  const context = `commit of chunk ${ref.chunkNo} of upload ${ref.uploadId}`;
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw classifyError(error, context);
  }
  let failed = false;
  try {
    await client.query('BEGIN');
    const result = await commitInTransaction(client, ref, source, options);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    failed = true;
    await client.query('ROLLBACK').catch(() => {});
    throw classifyError(error, context);
  } finally {
    client.release(failed);
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
  const planned = await client.query<{ header: string[]; byte_start: string; byte_end: string; first_line: number; rows: number }>(
    `SELECT u.header, c.byte_start, c.byte_end, c.first_line, c.rows
     FROM bulkflow.upload_chunks c JOIN bulkflow.uploads u USING (upload_id)
     WHERE c.upload_id = $1 AND c.chunk_no = $2`,
    [uploadId, chunkNo],
  );
  const chunk = planned.rows[0];
  if (!chunk) throw new PermanentError(`chunk ${chunkNo} of upload ${uploadId} is not planned`);
  const columns = chunk.header;
  const staging = columns.map((_, i) => `c${i + 1}`);

  await client.query(`CREATE TEMP TABLE staging (line int, ${staging.map((c) => `${c} text`).join(', ')}) ON COMMIT DROP`);
  const encoder = new CopyEncoder({
    startOffset: Number(chunk.byte_start),
    startLine: chunk.first_line,
    maxRecordBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    expectedFields: columns.length,
  });
  const copy = client.query(copyFrom(`COPY pg_temp.staging (line, ${staging.join(', ')}) FROM STDIN (FORMAT csv)`));
  await pipeline(source.stream(Number(chunk.byte_start), Number(chunk.byte_end)), encoder, copy);
  if (encoder.records !== chunk.rows) {
    throw new PermanentError(`chunk ${chunkNo} of upload ${uploadId} holds ${encoder.records} rows, planned ${chunk.rows}: the file changed`);
  }

  const cap = options.maxErrorRows ?? DEFAULT_MAX_ERROR_ROWS;
  const stored = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM (SELECT 1 FROM bulkflow.row_errors WHERE upload_id = $1 LIMIT $2) e',
    [uploadId, cap],
  );
  let room = cap - stored.rows[0]!.n;

  // Rows with the wrong shape never reached staging; record them first (they have the lowest cost).
  const rejected = encoder.rejected;
  if (rejected.length > 0 && room > 0) {
    const kept = rejected.slice(0, room);
    await client.query(
      `INSERT INTO bulkflow.row_errors (upload_id, line, "column", code, message)
       SELECT $1, line, NULL, code, message FROM unnest($2::int[], $3::text[], $4::text[]) AS r(line, code, message)`,
      [uploadId, kept.map((r) => r.line), kept.map((r) => r.code),
        kept.map((r) => (r.code === 'field_count' ? fieldCountMessage(r.fields, columns.length) : ROW_ERROR_MESSAGES[`:${r.code}`]!))],
    );
    room -= kept.length;
  }

  // The staged chunk (a few tens of MB) is scanned several times: keep it in memory.
  await client.query(`SET LOCAL work_mem = '128MB'`);
  const result = await client.query<{ committed: number; rejected: number; counts: Record<string, number> }>(
    validationSql(uploadId, columns),
    [uploadId, JSON.stringify(ROW_ERROR_MESSAGES), Math.max(room, 0)],
  );
  const counts = result.rows[0]!;
  const errorCounts: Record<string, number> = { ...counts.counts };
  for (const r of rejected) errorCounts[r.code] = (errorCounts[r.code] ?? 0) + 1;
  const rowsRejected = counts.rejected + rejected.length;
  await client.query(
    `INSERT INTO bulkflow.chunk_ledger (upload_id, chunk_no, rows_committed, rows_rejected, error_counts) VALUES ($1, $2, $3, $4, $5)`,
    [uploadId, chunkNo, counts.committed, rowsRejected, JSON.stringify(errorCounts)],
  );
  return { uploadId, chunkNo, rowsCommitted: counts.committed, rowsRejected, alreadyCommitted: false };
}

/**
 * One statement: check every column of every staged row, insert valid rows typed, store up to $3
 * error rows (lowest lines first) and return the counts. $1 upload id, $2 messages by `column:code`.
 */
function validationSql(uploadId: string, header: string[]): string {
  const source = (column: string) => {
    const index = header.indexOf(column);
    return index < 0 ? 'NULL::text' : `c${index + 1}`;
  };
  const checks = COLUMNS.map((column) => `${COLUMN_RULES[column].check(source(column))} AS e_${column}`);
  const valid = COLUMNS.map((column) => `e_${column} IS NULL`).join(' AND ');
  const typed = COLUMNS.map((column) => COLUMN_RULES[column].typed(`v_${column}`));
  const errorPairs = COLUMNS.map((column) => `('${column}', e_${column})`).join(', ');
  return `
    WITH checked AS MATERIALIZED (
      SELECT *, ${valid} AS valid FROM (
        SELECT line, ${COLUMNS.map((column) => `${source(column)} AS v_${column}`).join(', ')}, ${checks.join(', ')}
        FROM pg_temp.staging
      ) s
    ),
    inserted AS (
      INSERT INTO ${uploadTable(uploadId).qualified} (upload_id, line, ${COLUMNS.join(', ')})
      SELECT $1, line, ${typed.join(', ')} FROM checked WHERE valid
    ),
    errors AS (
      SELECT c.line, e.col, e.code FROM checked c CROSS JOIN LATERAL (VALUES ${errorPairs}) AS e(col, code)
      WHERE NOT c.valid AND e.code IS NOT NULL
    ),
    stored AS (
      INSERT INTO bulkflow.row_errors (upload_id, line, "column", code, message)
      SELECT $1, line, col, code, $2::jsonb ->> (col || ':' || code) FROM errors ORDER BY line, col LIMIT $3
    )
    SELECT count(*) FILTER (WHERE valid)::int AS committed, count(*) FILTER (WHERE NOT valid)::int AS rejected,
           (SELECT coalesce(jsonb_object_agg(code, n), '{}') FROM (SELECT code, count(*) AS n FROM errors GROUP BY code) g) AS counts
    FROM checked`;
}
