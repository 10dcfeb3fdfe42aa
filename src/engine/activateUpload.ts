import type pg from 'pg';
import { lockStateActivation, lockUpload, UPLOAD_LOCK } from './advisoryLocks.js';
import { ledgerTotalsSql, uploadTable, withTransaction } from './db.js';
import { ensureKeyFilter } from './keyFilter.js';
import { DEFAULT_MAX_ERROR_ROWS, DEFAULT_MAX_REJECTED_SHARE } from './ingestPolicy.js';
import { UPLOAD_COMPLETED, type UploadEventData } from './eventData.js';
import { writeUploadEvent } from './outbox.js';
import { duplicateMessage } from './participantSchema.js';
import { markUploadFailed } from './uploadFailure.js';
import { outcome, readUpload, type ActivationResult } from './uploadOutcome.js';
import { isFinal } from './uploadStatus.js';

export interface ActivationOptions {
  /** The upload fails when rejected rows / all rows exceed this share. */
  maxRejectedShare?: number;
  maxErrorRows?: number;
}

/** What the chunk ledger holds for an upload: its committed chunks and their rows. */
export interface LedgerTotals {
  chunksCommitted: number;
  rowsCommitted: number;
  rowsRejected: number;
}

/**
 * Activation was asked for before every planned chunk was committed, or a commit was lost after it was reported (a
 * server back with a prefix of its WAL, e.g. a failover to a replica that was behind, loses the last commits whole).
 * Committing the missing chunks again (idempotent per chunk) and activating again completes the upload; `committed` is
 * what the ledger holds.
 */
export class IncompleteUploadError extends Error {
  override readonly name = 'IncompleteUploadError';
  constructor(
    readonly uploadId: string,
    readonly missingChunks: number[],
    readonly committed: LedgerTotals,
  ) {
    super(`upload ${uploadId} cannot activate: ${missingChunks.length} planned chunk(s) not committed (first: ${missingChunks.slice(0, 5).join(', ')})`);
  }
}

/**
 * Finishes an upload whose chunks are all committed: resolves duplicate participant_ids, builds the
 * indexes once, applies the rejected-row policy, then in ONE transaction makes it the active upload of
 * its state (previous one superseded) and writes the completion event to the outbox. A failed upload
 * gets a failure event and never changes which upload is active. Idempotent.
 */
export async function activateUpload(pool: pg.Pool, uploadId: string, options: ActivationOptions = {}): Promise<ActivationResult> {
  const maxShare = options.maxRejectedShare ?? DEFAULT_MAX_REJECTED_SHARE;
  const maxErrorRows = options.maxErrorRows ?? DEFAULT_MAX_ERROR_ROWS;
  let upload = await readUpload(pool, uploadId);
  if (isFinal(upload.status)) return outcome(upload);
  if (!upload.planned_at) throw new Error(`upload ${uploadId} is not planned (status ${upload.status})`);

  const missing = await pool.query<{ chunk_no: number }>(
    `SELECT c.chunk_no FROM bulkflow.upload_chunks c
     LEFT JOIN bulkflow.chunk_ledger l USING (upload_id, chunk_no)
     WHERE c.upload_id = $1 AND l.chunk_no IS NULL ORDER BY c.chunk_no`,
    [uploadId],
  );
  if (missing.rows.length > 0) {
    const { rows: [totals] } = await pool.query<{ committed: string; rejected: string; chunks_committed: number }>(ledgerTotalsSql('$1'), [uploadId]);
    throw new IncompleteUploadError(uploadId, missing.rows.map((r) => r.chunk_no), {
      chunksCommitted: totals!.chunks_committed, rowsCommitted: Number(totals!.committed), rowsRejected: Number(totals!.rejected),
    });
  }

  if (!upload.finalized_at) {
    // The lookup index and key filter are skipped when the rows rejected so far already fail the upload.
    const { rows: [ledger] } = await pool.query<{ committed: string; rejected: string }>(ledgerTotalsSql('$1'), [uploadId]);
    const mayPass = Number(ledger!.rejected) <= maxShare * Number(upload.rows_total);
    // Two lanes throughout (one core each). The key filter reads the table's pages beside the VACUUM, sized by the rows
    // committed: a duplicate removed later leaves its key in the filter, a false positive, never a miss. Then the two
    // index builds; then the duplicate search in two halves of the ids. 5.4M rows, held quiet: VACUUM 5.4 s with the
    // filter beside it (the filter after the lookup build took 3.2-4.2 s more), builds 7.6 s, search 2.1 s (3.6 s
    // in one piece, which ran after the participant_id build while the other core built the filter).
    await Promise.all([pool.query(vacuumSql(uploadId)), mayPass ? ensureKeyFilter(pool, uploadId, Number(ledger!.committed)) : undefined]);
    await Promise.all([
      buildUploadIndex(pool, uploadId, UPLOAD_LOCK.idIndex, participantIdIndexSql(uploadId)),
      mayPass ? buildUploadIndex(pool, uploadId, UPLOAD_LOCK.table, lookupIndexSql(uploadId)) : undefined,
    ]);
    const halves = await idHalves(pool, uploadId);
    await Promise.all(halves.map((half, i) => removeDuplicates(pool, uploadId, half, UPLOAD_LOCK.duplicates - i, maxErrorRows)));
    await finalize(pool, uploadId, maxErrorRows);
  }
  upload = await readUpload(pool, uploadId);
  const rejectedTooMany = Number(upload.rows_rejected) > maxShare * Number(upload.rows_total);
  if (!rejectedTooMany) {
    await buildUploadIndex(pool, uploadId, UPLOAD_LOCK.table, lookupIndexSql(uploadId));
    await ensureKeyFilter(pool, uploadId); // before the upload is active: a query must never miss its keys
    await attachPartition(pool, uploadId);
  }

  return withTransaction(pool, async (client) => {
    await lockStateActivation(client, upload.state);
    const current = await readUpload(client, uploadId, true);
    if (isFinal(current.status)) return outcome(current);
    const event = (status: UploadEventData['status'], activated: boolean, extra: Partial<UploadEventData> = {}): UploadEventData => ({
      uploadId, state: current.state, source: current.source, status, activated,
      rowsTotal: Number(current.rows_total), rowsCommitted: Number(current.rows_committed), rowsRejected: Number(current.rows_rejected),
      ...extra,
    });

    if (rejectedTooMany) {
      const total = Number(current.rows_total);
      const rejected = Number(current.rows_rejected);
      const message = `${rejected} of ${total} rows were rejected (${((100 * rejected) / total).toFixed(1)} %), above the limit of ${(100 * maxShare).toFixed(1)} %`;
      await markUploadFailed(client, uploadId, { code: 'too_many_rejected', message });
      return outcome(await readUpload(client, uploadId));
    }

    const active = await client.query<{ upload_id: string; seq: string }>(
      `SELECT a.upload_id, u.seq FROM bulkflow.active_uploads a JOIN bulkflow.uploads u USING (upload_id) WHERE a.state = $1`,
      [current.state],
    );
    const previous = active.rows[0];
    if (previous && BigInt(previous.seq) > BigInt(current.seq)) {
      // A newer registration of this state is already active: never roll it back to older data.
      await client.query(
        `UPDATE bulkflow.uploads SET status = 'superseded', completed_at = now(), superseded_at = now(), superseded_by = $2 WHERE upload_id = $1`,
        [uploadId, previous.upload_id],
      );
      await writeUploadEvent(client, UPLOAD_COMPLETED, event('superseded', false, { supersededBy: previous.upload_id }));
      return outcome(await readUpload(client, uploadId));
    }

    await client.query(
      `INSERT INTO bulkflow.active_uploads (state, upload_id) VALUES ($1, $2)
       ON CONFLICT (state) DO UPDATE SET upload_id = excluded.upload_id, activated_at = now()`,
      [current.state, uploadId],
    );
    if (previous) {
      await client.query(
        `UPDATE bulkflow.uploads SET status = 'superseded', superseded_at = now(), superseded_by = $2 WHERE upload_id = $1`,
        [previous.upload_id, uploadId],
      );
    }
    await client.query(`UPDATE bulkflow.uploads SET status = 'complete', completed_at = now() WHERE upload_id = $1`, [uploadId]);
    await writeUploadEvent(client, UPLOAD_COMPLETED, event('complete', true));
    return outcome(await readUpload(client, uploadId));
  });
}

/**
 * Exact totals once the duplicates are gone (the rows the table holds; the chunks' ledger says how many went in), and
 * the error rows trimmed to the cap. In one transaction, once: counting what is left keeps the totals exact however
 * often the searches ran before (each deletes and records its duplicates in its own transaction).
 */
async function finalize(pool: pg.Pool, uploadId: string, maxErrorRows: number): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockUpload(client, uploadId, UPLOAD_LOCK.plan);
    const again = await readUpload(client, uploadId);
    if (again.finalized_at) return;
    const { rows: [table] } = await client.query<{ held: string }>(`SELECT count(*) AS held FROM ${uploadTable(uploadId).qualified}`);
    await client.query(
      `DELETE FROM bulkflow.row_errors e USING (
         SELECT line, coalesce("column", '') AS col FROM bulkflow.row_errors WHERE upload_id = $1
         ORDER BY line, coalesce("column", '') OFFSET $2 LIMIT 1
       ) cut
       WHERE e.upload_id = $1 AND (e.line, coalesce(e."column", '')) >= (cut.line, cut.col)`,
      [uploadId, maxErrorRows],
    );
    // The clock, not now() (this transaction's start): when the duplicates were settled.
    const { rows: [totals] } = await client.query<{ duplicates: string }>(
      `UPDATE bulkflow.uploads u SET finalized_at = clock_timestamp(),
         rows_committed = $2, rows_rejected = t.rejected + (t.committed - $2), rows_duplicate = t.committed - $2,
         error_counts = CASE WHEN t.committed > $2 THEN t.counts || jsonb_build_object('duplicate_participant_id', t.committed - $2) ELSE t.counts END
       FROM (${ledgerTotalsSql('$1')}
       ) t
       WHERE u.upload_id = $1
       RETURNING t.committed - $2 AS duplicates`,
      [uploadId, table!.held],
    );
    if (Number(totals!.duplicates) < 0) throw new Error(`upload ${uploadId} holds ${table!.held} rows, more than its chunks committed`);
  });
}

/**
 * Attaches the upload's table to `participants` before (not inside) the transaction that activates it. Which
 * partitions a query scans is fixed when it is planned, not by its MVCC snapshot, so attaching in the switch
 * let a concurrent reader plan without the new partition yet see the new active row: zero rows. Attached but
 * not active, the rows are invisible to readers (the view joins active_uploads); the switch is one row update.
 */
async function attachPartition(pool: pg.Pool, uploadId: string): Promise<void> {
  const table = uploadTable(uploadId);
  await withTransaction(pool, async (client) => {
    await lockUpload(client, uploadId, UPLOAD_LOCK.table);
    const { rows } = await client.query<{ attached: boolean }>(
      `SELECT c.relispartition AS attached FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2`,
      [table.schema, table.name],
    );
    if (rows[0]?.attached) return;
    await client.query(`ALTER TABLE bulkflow.participants ATTACH PARTITION ${table.qualified} FOR VALUES IN (${client.escapeLiteral(uploadId)})`);
  });
}

/**
 * Builds one of the upload's indexes in a transaction of its own, under a lock of its own (two activations of one upload
 * must not race on the name; the two builds run side by side).
 */
async function buildUploadIndex(pool: pg.Pool, uploadId: string, lock: number, sql: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockUpload(client, uploadId, lock);
    await buildIndex(client, sql);
  });
}

/**
 * The participant_id index, which finds the duplicates too: the ids in order, with their lines, read from the index
 * alone (the table was vacuumed). A unique index tried first cost a whole failed build whenever a file had a
 * duplicate. No row is written to the table after activation, so the ids are unique all the same.
 */
export function participantIdIndexSql(uploadId: string): string {
  const table = uploadTable(uploadId);
  return `CREATE INDEX IF NOT EXISTS ${table.name}_participant_id ON ${table.qualified} (participant_id, line) WITH (fillfactor = 100)`;
}

/**
 * Once, before the index builds (VACUUM and a build lock each other out): sets every row's hint bits (instead of each
 * scan dirtying pages) and the visibility map, so duplicate detection and later lookups can read the indexes alone;
 * statistics for readers. Its cost is writing the pages back with their WAL: each page's first change after a
 * checkpoint logs the whole page (data checksums), which at 10M rows is ~2 GB of WAL. In its default 2 MB ring VACUUM
 * must flush WAL each time it reuses a dirty buffer; a 64 MB ring flushes 32 times less often and still leaves the rest
 * of shared_buffers to readers. Measured alone, after a checkpoint: 10M rows 12.1-13.3 s -> 11.2 s (no ring at all:
 * 11.2-11.7 s), 1M rows 1.44-1.57 -> 1.35-1.36 s; without a checkpoint since the rows were written (no page images):
 * 1M rows 0.76-0.82 -> 0.70-0.78 s.
 */
export function vacuumSql(uploadId: string): string {
  return `VACUUM (ANALYZE, BUFFER_USAGE_LIMIT '64MB') ${uploadTable(uploadId).qualified}`;
}

/**
 * The index matching looks hashes up with: on lds_key, the hash's first 8 bytes (migration lds-key: less than half the
 * build time and a quarter of the size of the 64-byte index it replaced; the full hash is compared for equal keys
 * only). Keys hardly repeat, so deduplicating equal keys saves no space; skipping the check built the 64-byte index
 * 12 % faster.
 */
export function lookupIndexSql(uploadId: string): string {
  const table = uploadTable(uploadId);
  return `CREATE INDEX IF NOT EXISTS ${table.name}_lds_key ON ${table.qualified} (lds_key) WITH (fillfactor = 100, deduplicate_items = off)`;
}

/**
 * Builds one of the upload's indexes inside the caller's transaction, as activation does (one core each, side by side).
 * maintenance_work_mem is what a build may sort in memory before spilling to disk: ~50 bytes per row for the key index
 * and ~60 for the participant_id one, so 512MB sorts a caseload of ~8M rows (California's 5.4M) in memory. Measured at
 * 5M rows, key index (load 16-22): 64MB 31-41 s, 256MB 24-29 s, 1GB 23-28 s. Memory is taken only as needed, and an
 * activation runs two builds: up to 1 GB per activation at once (the Azure server: README "Activation memory").
 */
export async function buildIndex(client: pg.PoolClient, sql: string): Promise<void> {
  await client.query(`SET LOCAL maintenance_work_mem = '512MB'`);
  await client.query('SET LOCAL max_parallel_maintenance_workers = 0');
  await client.query(sql);
}

/** Part of the ids, split at `bound`: below it, or from it on; the whole when there is no bound. */
type IdHalf = { below: string } | { from: string } | undefined;

/**
 * The ids in two halves at their median as ANALYZE estimated it (the VACUUM analyzed the table), so the two searches
 * run side by side; a repeated id falls wholly in one. One part when there are no statistics to split by.
 */
async function idHalves(pool: pg.Pool, uploadId: string): Promise<IdHalf[]> {
  const table = uploadTable(uploadId);
  const { rows: [stats] } = await pool.query<{ median: string | null }>(
    `SELECT bounds[array_length(bounds, 1) / 2 + 1] AS median
     FROM (SELECT histogram_bounds::text::text[] AS bounds FROM pg_stats
           WHERE schemaname = $1 AND tablename = $2 AND attname = 'participant_id') s`,
    [table.schema, table.name],
  );
  const median = stats?.median;
  return median == null ? [undefined] : [{ below: median }, { from: median }];
}

/**
 * Finds the ids of one half that repeat and keeps each one's first line: the later ones are deleted and recorded as
 * row errors, in one transaction, under the half's own lock (a second activation of the upload waits, then finds
 * nothing to delete). Both steps read the (participant_id, line) index: the ids in order from the index alone (the
 * table was vacuumed), then each repeated id's later lines, looked up one id at a time (nested loop). Without the join
 * settings the planner, expecting a third of all ids to repeat, merged the whole index and table instead. Measured per
 * 1M rows with 116 repeated ids: 0.8 s instead of 2.5 s (under load); a file without duplicates costs the one
 * index-only scan. Only the count per id is searched for: each repeated id's first line is looked up after, for the
 * few that repeat (1M rows, alone: 0.72 instead of 0.82 s with min(line) in the scan).
 */
async function removeDuplicates(pool: pg.Pool, uploadId: string, half: IdHalf, lock: number, maxErrorRows: number): Promise<void> {
  const table = uploadTable(uploadId).qualified;
  const [range, bound] = !half ? ['', []] : 'below' in half ? ['WHERE participant_id < $1', [half.below]] : ['WHERE participant_id >= $1', [half.from]];
  await withTransaction(pool, async (client) => {
    await lockUpload(client, uploadId, lock);
    for (const plan of ['seqscan', 'hashagg', 'sort', 'mergejoin', 'hashjoin']) await client.query(`SET LOCAL enable_${plan} = off`);
    const search = await client.query(
      `CREATE TEMP TABLE repeated_ids ON COMMIT DROP AS
       SELECT participant_id FROM ${table} ${range} GROUP BY participant_id HAVING count(*) > 1`,
      bound,
    );
    if ((search.rowCount ?? 0) === 0) return;
    await client.query(
      `WITH firsts AS (
         SELECT r.participant_id, (SELECT min(f.line) FROM ${table} f WHERE f.participant_id = r.participant_id) AS first_line
         FROM repeated_ids r
       ),
       removed AS (
         DELETE FROM ${table} t USING firsts r WHERE t.participant_id = r.participant_id AND t.line > r.first_line
         RETURNING t.line, r.first_line
       )
       INSERT INTO bulkflow.row_errors (upload_id, line, "column", code, message)
       SELECT $1, line, 'participant_id', 'duplicate_participant_id', $2::text || first_line FROM removed ORDER BY line LIMIT $3`,
      [uploadId, duplicateMessage(''), maxErrorRows],
    );
  });
}
