import type pg from 'pg';
import { uploadTable } from './db.js';

/** What one evaluation did to the records of the pair {own state, other state}. */
export interface PairChanges {
  state: string;
  /** Open records of the pair after the evaluation. */
  open: number;
  /** Records opened by it (created, or closed before and open again). */
  opened: number;
  closed: number;
}

export interface Evaluation {
  /** The upload whose state's pairs are evaluated; nothing happens unless it is its state's active upload. */
  uploadId: string;
  state: string;
  /** The other states and their active uploads as read under the pair locks. */
  others: Array<{ state: string; uploadId: string }>;
  /**
   * Uploads whose candidate keys with this one were found beforehand, outside the pair locks (runMatchAnalyses), and
   * are in the session's temporary table match_candidates (own, other, lds_key); the others' are found here.
   */
  precomputed?: ReadonlySet<string>;
}

/**
 * Brings the match records of every pair {state, other} in step with the two states' active uploads: each lds_hash
 * both hold is one open record (created, refreshed, or opened again under its deterministic id), and an open record
 * whose hash either side no longer holds is closed. Records their states closed (dispositions) stay closed, and a
 * record's side that a real-time query named (no upload) is never closed by an upload. The caller holds the pair locks, so no other evaluation of these
 * pairs runs meanwhile.
 *
 * Two statements, both over the uploads' own tables (never the partitioned table or the active view, whose plans
 * probe every row). The first finds the shared hashes and their ids, pair by pair (an upload's rows never change once
 * it is complete). The second writes the records and only counts a pair while both uploads are the active ones in its
 * snapshot: a partial, failed or superseded upload never opens or closes a record.
 */
export async function evaluatePairs(client: pg.PoolClient, evaluation: Evaluation): Promise<PairChanges[]> {
  // Both statements keep ~100k-row intermediate results: in memory rather than in temporary files.
  await client.query(`SET LOCAL work_mem = '64MB'`);
  await findShared(client, evaluation);
  return writeRecords(client, evaluation);
}

/** The planner settings the shared hashes are found under (see findShared); RESET after. */
export const MERGE_JOIN_SETTINGS = 'SET LOCAL enable_hashjoin = off; SET LOCAL enable_nestloop = off; SET LOCAL max_parallel_workers_per_gather = 0';

/**
 * Each shared hash once per other state, under its match id, with the lowest participant_id holding it on each side.
 * Two steps. 1) Candidate keys: the own upload's lookup index (lds_key, the hash's first 8 bytes) merged with the
 * other uploads' indexes, all from the indexes alone (candidateKeysSql). 2) Only the candidates are looked up in both
 * tables, their full hashes compared, and each side's participant read.
 * Left alone, the planner probes every other upload's index once per row (the same join through the active view, 1M
 * rows against 10 x 1M: ~50 s of CPU, against ~4 s merged) or hashes whole tables. The id, an HMAC (~5 us each), is
 * computed here once per record: computed in the statement that joins the existing records by id, it was evaluated
 * twice, for the join and for the output.
 */
async function findShared(client: pg.PoolClient, { uploadId, state, others, precomputed }: Evaluation): Promise<void> {
  await client.query(
    `CREATE TEMP TABLE match_found (match_id text, other_state text, other_upload text, lds_hash bytea, own_participant text, own_case text,
                                    other_participant text, other_case text) ON COMMIT DROP`,
  );
  if (others.length === 0) return;
  const { rows: counts } = await client.query<{ upload_id: string; rows: string }>(
    'SELECT upload_id, coalesce(rows_committed, rows_total, 0) AS rows FROM bulkflow.uploads WHERE upload_id = ANY($1::text[])',
    [[uploadId, ...others.map((other) => other.uploadId)]],
  );
  const rowsOf = new Map(counts.map((count) => [count.upload_id, Number(count.rows)]));
  const sized = (id: string): UploadRows => ({ uploadId: id, rows: rowsOf.get(id) ?? 0 });
  await client.query('CREATE TEMP TABLE match_keys (lds_key bigint, other int) ON COMMIT DROP');
  const positions = others.map((other, i) => ({ ...other, i }));
  const known = positions.filter((other) => precomputed?.has(other.uploadId));
  const rest = positions.filter((other) => !precomputed?.has(other.uploadId));
  if (known.length > 0) {
    await client.query(
      `INSERT INTO match_keys SELECT DISTINCT c.lds_key, m.i FROM match_candidates c JOIN unnest($2::text[], $3::int[]) m (upload_id, i) ON m.upload_id = c.other
       WHERE c.own = $1`,
      [uploadId, known.map((other) => other.uploadId), known.map((other) => other.i)],
    );
  }
  if (rest.length > 0) {
    await client.query(MERGE_JOIN_SETTINGS);
    await client.query(
      `INSERT INTO match_keys SELECT k.lds_key, ($1::int[])[k.other + 1] FROM (${candidateKeysSql(sized(uploadId), rest.map((other) => sized(other.uploadId)))}) k`,
      [rest.map((other) => other.i)],
    );
    await client.query('RESET enable_hashjoin; RESET enable_nestloop; RESET max_parallel_workers_per_gather');
  }
  // The planner then knows the candidates are few: it looks each up through the lookup indexes.
  await client.query('CREATE INDEX ON match_keys (other)');
  await client.query('ANALYZE match_keys');
  const branches = others.map(({ uploadId: otherId }, i) => {
    const otherState = `$${2 * i + 2}::text`;
    const id = `bulkflow.match_id(k.key, least($1::text, ${otherState}), greatest($1::text, ${otherState}), n.lds_hash)`;
    return `SELECT ${id}, ${otherState}, $${2 * i + 3}::text, n.lds_hash, n.participant_id, n.case_id, o.participant_id, o.case_id
            ${sharedRowsSql(uploadId, otherId, `(SELECT lds_key FROM match_keys WHERE other = ${i})`)} CROSS JOIN bulkflow.match_id_key k`;
  });
  await client.query(`INSERT INTO match_found ${branches.join(' UNION ALL ')}`, [state, ...others.flatMap((other) => [other.state, other.uploadId])]);
  await client.query('DROP TABLE match_keys');
}

/** An upload and its committed rows (what the candidate merge reads of its lookup index). */
export interface UploadRows {
  uploadId: string;
  rows: number;
}

/**
 * A merge append over S indexes costs about MERGE_APPEND_FACTOR x log2(S) times a plain merge per entry (its heap),
 * fitted to two measurements: 1M own rows against 10 x 1M (one pass 7.3 s, quiet machine) and 0.3M against 50 x 44k
 * (per pair 12.0 s, one pass 6.8 s, load 16).
 */
const MERGE_APPEND_FACTOR = 0.7;

/**
 * The lookup keys the own upload shares with any of the others, each once per other upload (`other`: its position in
 * `others`), in whichever of two forms reads less; run under MERGE_JOIN_SETTINGS. Per pair, the own key index is
 * merged with each other's: it is read once per other state (S x own + all others' entries), which dominates when the
 * own upload is large. In one pass, it is merged once with all the others' read in one ordered pass (a merge append):
 * own + ~0.7 log2(S) x all others' entries, which costs more whenever the own upload is not several times the others'
 * average (at 10 states of 1M each: per pair 6.2 s, one pass 7.3 s). Keys are 64 bits of a hash: equal keys are the
 * shared hashes but for a practically impossible collision, which the full comparison after sorts out.
 */
export function candidateKeysSql(own: UploadRows, others: UploadRows[]): string {
  const othersRows = others.reduce((sum, other) => sum + other.rows, 0);
  const perPair = others.length * own.rows + othersRows;
  const onePass = own.rows + MERGE_APPEND_FACTOR * Math.log2(Math.max(2, others.length)) * othersRows;
  if (onePass < perPair) {
    const all = others.map((other, i) => `SELECT lds_key, ${i} AS other FROM ${uploadTable(other.uploadId).qualified}`).join(' UNION ALL ');
    return `SELECT DISTINCT n.lds_key, o.other FROM ${uploadTable(own.uploadId).qualified} n JOIN (${all}) o ON o.lds_key = n.lds_key`;
  }
  return others.map((other, i) => `SELECT k.lds_key, ${i} AS other FROM (${pairKeysSql(own.uploadId, other.uploadId)}) k`).join(' UNION ALL ');
}

/** The lookup keys two uploads share, each once: a merge of their key indexes under MERGE_JOIN_SETTINGS. */
export function pairKeysSql(ownUploadId: string, otherUploadId: string): string {
  return `SELECT DISTINCT n.lds_key FROM ${uploadTable(ownUploadId).qualified} n JOIN ${uploadTable(otherUploadId).qualified} o ON o.lds_key = n.lds_key`;
}

/**
 * FROM clause of one pair's shared hashes (n.lds_hash), each with the lowest participant_id holding it in the own
 * upload (n) and in the other (o). `keys`: a subquery of candidate lds_key values, each once (candidateKeysSql); only
 * those are looked up, once in each upload's lookup index: the own rows of the key, one per hash, then the other's
 * rows of the same key and hash (a join of both sides and a lookup of each side again took four probes a key).
 */
export function sharedRowsSql(ownUploadId: string, otherUploadId: string, keys: string): string {
  const own = uploadTable(ownUploadId).qualified;
  const other = uploadTable(otherUploadId).qualified;
  return `FROM ${keys} c
          CROSS JOIN LATERAL (SELECT DISTINCT ON (x.lds_hash) x.lds_hash, x.participant_id, x.case_id FROM ${own} x
                              WHERE x.lds_key = c.lds_key ORDER BY x.lds_hash, x.participant_id) n
          CROSS JOIN LATERAL (SELECT y.participant_id, y.case_id FROM ${other} y
                              WHERE y.lds_key = c.lds_key AND y.lds_hash = n.lds_hash ORDER BY y.participant_id LIMIT 1) o`;
}

async function writeRecords(client: pg.PoolClient, evaluation: Evaluation): Promise<PairChanges[]> {
  const { rows } = await client.query<{ state: string; open: number; opened: number; closed: number; collisions: number }>(
    `WITH pairs AS MATERIALIZED (
       SELECT a.state, a.upload_id FROM bulkflow.active_uploads a
       WHERE a.upload_id = ANY($2::text[]) AND EXISTS (SELECT 1 FROM bulkflow.active_uploads own WHERE own.upload_id = $1)
     ),
     -- Every (pair, hash) both uploads hold, under its id, beside the record as it is (if any).
     found AS MATERIALIZED (
       SELECT s.*, m.match_id IS NOT NULL AS existed, m.match_id IS NOT NULL AND m.closed_at IS NULL AS was_open,
              -- Closed by its states (final dispositions, invalid match): it stays closed, whatever the uploads hold.
              coalesce(m.closed_reason <> 'upload', false) AS resolved,
              m.match_id IS NOT NULL AND (m.state_a, m.state_b, m.lds_hash) IS DISTINCT FROM (s.state_a, s.state_b, s.lds_hash) AS collision,
              (m.a_participant_id, m.a_case_id, m.a_upload_id, m.b_participant_id, m.b_case_id, m.b_upload_id)
                IS DISTINCT FROM (s.a_participant_id, s.a_case_id, s.a_upload_id, s.b_participant_id, s.b_case_id, s.b_upload_id) AS changed
       FROM (
         SELECT f.match_id, f.other_state, f.lds_hash, least($3, f.other_state) AS state_a, greatest($3, f.other_state) AS state_b,
                CASE WHEN $3 < f.other_state THEN f.own_participant ELSE f.other_participant END AS a_participant_id,
                CASE WHEN $3 < f.other_state THEN f.own_case ELSE f.other_case END AS a_case_id,
                CASE WHEN $3 < f.other_state THEN $1 ELSE f.other_upload END AS a_upload_id,
                CASE WHEN $3 < f.other_state THEN f.other_participant ELSE f.own_participant END AS b_participant_id,
                CASE WHEN $3 < f.other_state THEN f.other_case ELSE f.own_case END AS b_case_id,
                CASE WHEN $3 < f.other_state THEN f.other_upload ELSE $1 END AS b_upload_id
         FROM match_found f JOIN pairs p ON p.upload_id = f.other_upload
       ) s
       LEFT JOIN bulkflow.matches m USING (match_id)
     ),
     -- New records go in with a plain insert: under the pair locks no one else writes these ids.
     created AS (
       INSERT INTO bulkflow.matches (match_id, state_a, state_b, lds_hash, initiating_state,
                                     a_participant_id, a_case_id, a_upload_id, b_participant_id, b_case_id, b_upload_id)
       SELECT match_id, state_a, state_b, lds_hash, $3, a_participant_id, a_case_id, a_upload_id, b_participant_id, b_case_id, b_upload_id
       FROM found WHERE NOT existed ORDER BY match_id -- in index order: each insert lands beside the previous one
     ),
     -- Known records that open again or whose sides changed (one housekeeping may be deleting: then it is inserted).
     refreshed AS (
       INSERT INTO bulkflow.matches AS m (match_id, state_a, state_b, lds_hash, initiating_state,
                                          a_participant_id, a_case_id, a_upload_id, b_participant_id, b_case_id, b_upload_id)
       SELECT match_id, state_a, state_b, lds_hash, $3, a_participant_id, a_case_id, a_upload_id, b_participant_id, b_case_id, b_upload_id
       FROM found WHERE existed AND NOT collision AND NOT resolved AND (NOT was_open OR changed)
       ON CONFLICT (match_id) DO UPDATE SET
         a_participant_id = excluded.a_participant_id, a_case_id = excluded.a_case_id, a_upload_id = excluded.a_upload_id,
         b_participant_id = excluded.b_participant_id, b_case_id = excluded.b_case_id, b_upload_id = excluded.b_upload_id,
         initiating_state = CASE WHEN m.closed_at IS NULL THEN m.initiating_state ELSE excluded.initiating_state END,
         initiator = CASE WHEN m.closed_at IS NULL THEN m.initiator ELSE 'bulk' END,
         opened_at = CASE WHEN m.closed_at IS NULL THEN m.opened_at ELSE now() END,
         updated_at = now(), closed_at = NULL, closed_reason = NULL, closed_by_upload = NULL
     ),
     closed AS (
       UPDATE bulkflow.matches m
       SET closed_at = now(), updated_at = now(), closed_reason = 'upload',
           -- The upload that no longer holds the hash: this one, or else the other state's.
           closed_by_upload = CASE WHEN EXISTS (SELECT 1 FROM ${uploadTable(evaluation.uploadId).qualified} n
                                                WHERE n.lds_key = bulkflow.lds_key(m.lds_hash) AND n.lds_hash = m.lds_hash)
                                   THEN p.upload_id ELSE $1 END
       FROM pairs p
       WHERE m.closed_at IS NULL
         AND ((m.state_a = $3 AND m.state_b = p.state) OR (m.state_b = $3 AND m.state_a = p.state))
         AND NOT EXISTS (SELECT 1 FROM found f WHERE f.match_id = m.match_id)
         -- A side a real-time query named (an applicant no upload held) is not an upload's to close: its states close it.
         AND m.a_upload_id IS NOT NULL AND m.b_upload_id IS NOT NULL
       RETURNING p.state
     )
     SELECT state, sum(open)::int AS open, sum(opened)::int AS opened, sum(closed)::int AS closed, sum(collisions)::int AS collisions
     FROM (
       SELECT other_state AS state, count(*) FILTER (WHERE NOT resolved) AS open, count(*) FILTER (WHERE NOT was_open AND NOT resolved) AS opened, 0 AS closed,
              count(*) FILTER (WHERE collision) AS collisions
       FROM found GROUP BY other_state
       UNION ALL
       SELECT state, 0, 0, count(*), 0 FROM closed GROUP BY state
     ) counts
     GROUP BY state ORDER BY state`,
    [evaluation.uploadId, evaluation.others.map((other) => other.uploadId), evaluation.state],
  );
  // 96-bit ids make a collision practically impossible; were one to happen, the run fails instead of merging records.
  if (rows.some((row) => row.collisions > 0)) throw new Error(`match analysis: match id collision for upload ${evaluation.uploadId}`);
  return rows.map(({ state, open, opened, closed }) => ({ state, open, opened, closed }));
}

/** Deletes records closed longer ago than the retention, a batch at a time (short transactions). */
export async function purgeClosedMatches(pool: pg.Pool, options: { retentionMs: number; batchSize?: number }): Promise<number> {
  const batchSize = options.batchSize ?? 10_000;
  let purged = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      // Rows a match run holds are left for next time (the purge never waits, so it never deadlocks with a run); the
      // condition is repeated on the row itself, so a record opened again meanwhile is kept.
      `DELETE FROM bulkflow.matches m
       USING (
         SELECT match_id FROM bulkflow.matches WHERE closed_at <= now() - $1 * interval '1 millisecond'
         LIMIT $2 FOR UPDATE SKIP LOCKED
       ) old
       WHERE m.match_id = old.match_id AND m.closed_at <= now() - $1 * interval '1 millisecond'`,
      [options.retentionMs, batchSize],
    );
    purged += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return purged;
  }
}
