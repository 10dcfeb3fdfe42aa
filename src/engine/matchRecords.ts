import type pg from 'pg';
import { uploadTable } from './db.js';
import { candidateKeys } from './matchCandidates.js';

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

/**
 * Each shared hash once per other state, under its match id, with the lowest participant_id holding it on each side.
 * Two steps. 1) Candidate keys: the own upload's lookup keys (lds_key, the hash's first 8 bytes) that the other
 * uploads' key filters may hold (candidateKeys). 2) Only the candidates are looked up in both tables, their full hashes
 * compared, and each side's participant read. The id, an HMAC (~5 us each), is computed here once per record: computed
 * in the statement that joins the existing records by id, it was evaluated twice, for the join and for the output.
 */
async function findShared(client: pg.PoolClient, { uploadId, state, others, precomputed }: Evaluation): Promise<void> {
  await client.query(
    `CREATE TEMP TABLE match_found (match_id text, other_state text, other_upload text, lds_hash bytea, own_participant text, own_case text,
                                    other_participant text, other_case text) ON COMMIT DROP`,
  );
  if (others.length === 0) return;
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
    const found = await candidateKeys(client, uploadId, rest.map((other) => other.uploadId));
    await client.query('INSERT INTO match_keys SELECT c.lds_key, ($3::int[])[c.other + 1] FROM unnest($1::bigint[], $2::int[]) c (lds_key, other)', [
      found.keys, found.others, rest.map((other) => other.i),
    ]);
  }
  // The planner then knows the candidates are few: it looks each up through the lookup indexes.
  await client.query('CREATE INDEX ON match_keys (other)');
  await client.query('ANALYZE match_keys');
  const branches = others.map(({ uploadId: otherId }, i) => {
    const otherState = `$${2 * i + 2}::text`;
    const id = `bulkflow.match_id(k.key, least($1::text, ${otherState}), greatest($1::text, ${otherState}), s.lds_hash)`;
    return `SELECT ${id}, ${otherState}, $${2 * i + 3}::text, s.lds_hash, s.own_participant, s.own_case, s.other_participant, s.other_case
            FROM (${sharedRowsSql(uploadId, otherId, `(SELECT lds_key FROM match_keys WHERE other = ${i} ORDER BY lds_key)`)}) s CROSS JOIN bulkflow.match_id_key k`;
  });
  await client.query(LOOKUP_SETTINGS);
  await client.query(`INSERT INTO match_found ${branches.join(' UNION ALL ')}`, [state, ...others.flatMap((other) => [other.state, other.uploadId])]);
  await client.query('RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_memoize');
  await client.query('DROP TABLE match_keys');
}

/**
 * One pair's shared hashes, each once with the lowest participant_id holding it in the own upload and in the other
 * (columns lds_hash, own_participant, own_case, other_participant, other_case). `keys`: a subquery of candidate lds_key
 * values, each once, in key order (candidateKeys); only those are looked up, once in each upload's lookup index, under
 * LOOKUP_SETTINGS. The lowest participants are picked in one sort of the rows found: picked per key by a sort each
 * (DISTINCT ON and ORDER BY .. LIMIT 1 in a lateral subquery), two tiny sorts per candidate cost ~30 % more.
 */
export function sharedRowsSql(ownUploadId: string, otherUploadId: string, keys: string): string {
  return `SELECT DISTINCT ON (x.lds_hash) x.lds_hash, x.participant_id AS own_participant, x.case_id AS own_case,
                 y.participant_id AS other_participant, y.case_id AS other_case
          FROM ${keys} c
          JOIN ${uploadTable(ownUploadId).qualified} x ON x.lds_key = c.lds_key
          JOIN ${uploadTable(otherUploadId).qualified} y ON y.lds_key = c.lds_key AND y.lds_hash = x.lds_hash
          ORDER BY x.lds_hash, x.participant_id, y.participant_id`;
}

/**
 * sharedRowsSql's plan: each candidate looked up through both lookup indexes (nested loops). Left alone, the planner
 * hashes or merges whole tables, or puts a cache in front of each lookup that never hits (candidate keys are distinct).
 */
export const LOOKUP_SETTINGS = 'SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL enable_memoize = off';

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
