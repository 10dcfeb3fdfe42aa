import type pg from 'pg';
import { UPLOAD_ID } from './uploadIdentity.js';

export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Runs `work` on one pooled connection. The pool stops listening for a checked-out client's errors: a connection
 * cut between two queries (server restart while `work` awaits a blob read) would be an uncaught 'error' and end
 * the process. Here the next query fails instead, and a client whose work failed is discarded, not reused.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const ignore = () => {};
  client.on('error', ignore);
  let failed = false;
  try {
    return await work(client);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    client.off('error', ignore);
    client.release(failed);
  }
}

/** Runs `work` in one transaction on one pooled connection (see withClient). */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, (client) => inTransaction(client, work));
}

/** Runs `work` in one transaction on a connection the caller holds. */
export async function inTransaction<T>(client: pg.PoolClient, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** The upload's own participants table (a partition once active); the id is checked before it becomes SQL. */
export function uploadTable(uploadId: string): { schema: string; name: string; qualified: string } {
  const match = UPLOAD_ID.exec(uploadId);
  if (!match) throw new Error(`not an upload id: ${JSON.stringify(uploadId)}`);
  const name = `participants_${match[1]}_${match[2]}`;
  return { schema: 'bulkflow', name, qualified: `bulkflow.${name}` };
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
