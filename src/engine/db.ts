import type pg from 'pg';

export type Queryable = pg.Pool | pg.PoolClient;

/** Runs `work` in one transaction on one pooled connection; a failed connection is not reused. */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // The pool stops listening for a checked-out client's errors: a connection cut between two queries (server
  // restart while this transaction awaits a blob read) would be an uncaught 'error' and end the process. The
  // next query fails instead, the transaction rolls back and the client is discarded.
  const ignore = () => {};
  client.on('error', ignore);
  let failed = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    failed = true;
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.off('error', ignore);
    client.release(failed);
  }
}

const UPLOAD_ID = /^([a-z]{2})-([0-9a-f]{20})$/;

/** The upload's own participants table (a partition once active); the id is checked before it becomes SQL. */
export function uploadTable(uploadId: string): { schema: string; name: string; qualified: string } {
  const match = UPLOAD_ID.exec(uploadId);
  if (!match) throw new Error(`not an upload id: ${JSON.stringify(uploadId)}`);
  const name = `participants_${match[1]}_${match[2]}`;
  return { schema: 'bulkflow', name, qualified: `bulkflow.${name}` };
}

/** Transaction-scoped lock on (upload, part): -1 guards plan and finalize, -2 the lookup index, >= 0 one chunk. */
export async function lockUpload(client: pg.PoolClient, uploadId: string, part: number): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1), $2)', [uploadId, part]);
}

/** SQL for one upload's chunk ledger totals (committed, rejected, counts by error code); `uploadId` is an SQL expression. */
export function ledgerTotalsSql(uploadId: string): string {
  return `SELECT coalesce(sum(rows_committed), 0) AS committed, coalesce(sum(rows_rejected), 0) AS rejected,
            count(*)::int AS chunks_committed,
            coalesce((SELECT jsonb_object_agg(key, total) FROM (
              SELECT key, sum(value::bigint) AS total FROM bulkflow.chunk_ledger, jsonb_each_text(error_counts)
              WHERE upload_id = ${uploadId} GROUP BY key) k), '{}') AS counts
          FROM bulkflow.chunk_ledger WHERE upload_id = ${uploadId}`;
}
