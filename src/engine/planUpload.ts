import type pg from 'pg';
import type { ByteSource } from './byteSource.js';
import { lockUpload, UPLOAD_LOCK } from './advisoryLocks.js';
import { uploadTable, withTransaction } from './db.js';
import { WholeFileError } from './errors.js';
import type { Header, UploadWarning } from './participantSchema.js';
import { planChunks, type Chunk, type PlanOptions } from './planner.js';
import { markUploadFailed } from './uploadFailure.js';

export interface StoredPlan {
  uploadId: string;
  columns: string[];
  warnings: UploadWarning[];
  rowsTotal: number;
  sizeBytes: number;
  chunks: Chunk[];
}

export type PlanOutcome =
  | { ok: true; plan: StoredPlan }
  | { ok: false; error: { code: string; message: string; line: number | null } };

/**
 * Plans the upload once: creates its (index-less) participants table, stores its chunks and marks it running.
 * Chunks are stored as the scan cuts them, so they can be committed while the rest of the file is still being
 * planned (commitChunk waits for its chunk). Bad files do not throw: the upload is marked failed with the reason,
 * which is returned; rows already loaded stay in a table that is never activated. Calling it again returns the
 * stored outcome.
 */
export async function planUpload(pool: pg.Pool, uploadId: string, source: ByteSource, options: PlanOptions = {}): Promise<PlanOutcome> {
  const stored = await storedOutcome(pool, uploadId);
  if (stored) return stored;
  let plan;
  let cut = 0; // chunks stored as the scan cut them; the rest are stored with the plan
  try {
    plan = await planChunks(source, options, (header, chunks) =>
      withTransaction(pool, async (client) => {
        await lockUpload(client, uploadId, UPLOAD_LOCK.plan);
        await storeChunks(client, uploadId, header, chunks);
        cut += chunks.length;
      }),
    );
  } catch (error) {
    if (!(error instanceof WholeFileError)) throw error;
    await withTransaction(pool, async (client) => {
      await lockUpload(client, uploadId, UPLOAD_LOCK.plan);
      await markUploadFailed(client, uploadId, { code: error.code, message: error.message, line: error.line }, { unplannedOnly: true });
    });
    return (await storedOutcome(pool, uploadId))!;
  }
  await withTransaction(pool, async (client) => {
    await lockUpload(client, uploadId, UPLOAD_LOCK.plan);
    const { rows } = await client.query('SELECT 1 FROM bulkflow.uploads WHERE upload_id = $1 AND planned_at IS NULL', [uploadId]);
    if (rows.length === 0) return; // planned meanwhile by a concurrent caller
    await storeChunks(client, uploadId, plan, plan.chunks.slice(cut));
    await client.query(
      `UPDATE bulkflow.uploads SET status = 'running', planned_at = now(), warnings = $2, rows_total = $3, size_bytes = $4
       WHERE upload_id = $1`,
      [uploadId, JSON.stringify(plan.warnings), plan.rowsTotal, plan.sizeBytes],
    );
  });
  return (await storedOutcome(pool, uploadId))!;
}

/**
 * Stores chunks (again, harmlessly: a retried plan cuts the same ones) and, with the first, the upload's table and
 * header, which committing a chunk needs.
 */
async function storeChunks(client: pg.PoolClient, uploadId: string, header: Header, chunks: Chunk[]): Promise<void> {
  const table = uploadTable(uploadId);
  const { rows: [exists] } = await client.query<{ table: string | null }>('SELECT to_regclass($1) AS table', [table.qualified]);
  if (!exists?.table) {
    await createUploadTable(client, uploadId);
    await client.query('UPDATE bulkflow.uploads SET header = $2 WHERE upload_id = $1', [uploadId, JSON.stringify(header.columns)]);
  }
  await client.query(
    `INSERT INTO bulkflow.upload_chunks (upload_id, chunk_no, byte_start, byte_end, first_line, rows)
     SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::int[], $6::int[])
     ON CONFLICT (upload_id, chunk_no) DO NOTHING`,
    [uploadId, chunks.map((c) => c.chunkNo), chunks.map((c) => c.byteStart), chunks.map((c) => c.byteEnd),
      chunks.map((c) => c.firstLine), chunks.map((c) => c.rows)],
  );
}

/**
 * The upload's own table, which its chunks are copied into. The CHECK lets ATTACH PARTITION skip its scan; the
 * default lets COPY leave upload_id out. Activation vacuums and analyzes the table once its rows are in, and nothing
 * writes to it afterwards: an autovacuum meanwhile would only compete with the load (and hold up activation's own
 * VACUUM until it is cancelled).
 */
export async function createUploadTable(client: pg.PoolClient, uploadId: string): Promise<void> {
  const table = uploadTable(uploadId);
  const id = client.escapeLiteral(uploadId);
  await client.query(
    `CREATE TABLE ${table.qualified} (LIKE bulkflow.participants, CONSTRAINT ${table.name}_upload CHECK (upload_id = ${id}))
     WITH (autovacuum_enabled = false)`,
  );
  await client.query(`ALTER TABLE ${table.qualified} ALTER COLUMN upload_id SET DEFAULT ${id}`);
}

async function storedOutcome(pool: pg.Pool, uploadId: string): Promise<PlanOutcome | undefined> {
  const { rows } = await pool.query<{
    planned: boolean; header: string[] | null; warnings: UploadWarning[]; rows_total: string | null; size_bytes: string | null;
    error_code: string | null; error_message: string | null; error_line: number | null;
  }>(
    `SELECT planned_at IS NOT NULL AS planned, header, warnings, rows_total, size_bytes, error_code, error_message, error_line
     FROM bulkflow.uploads WHERE upload_id = $1`,
    [uploadId],
  );
  const upload = rows[0];
  if (!upload) throw new Error(`unknown upload ${uploadId}`);
  if (upload.planned) {
    const chunks = await pool.query<{ chunk_no: number; byte_start: string; byte_end: string; first_line: number; rows: number }>(
      'SELECT chunk_no, byte_start, byte_end, first_line, rows FROM bulkflow.upload_chunks WHERE upload_id = $1 ORDER BY chunk_no',
      [uploadId],
    );
    return {
      ok: true,
      plan: {
        uploadId,
        columns: upload.header ?? [],
        warnings: upload.warnings,
        rowsTotal: Number(upload.rows_total),
        sizeBytes: Number(upload.size_bytes),
        chunks: chunks.rows.map((c) => ({
          chunkNo: c.chunk_no, byteStart: Number(c.byte_start), byteEnd: Number(c.byte_end), firstLine: c.first_line, rows: c.rows,
        })),
      },
    };
  }
  if (upload.error_code) {
    return { ok: false, error: { code: upload.error_code, message: upload.error_message ?? '', line: upload.error_line } };
  }
  return undefined;
}
