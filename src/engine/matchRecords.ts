import type pg from 'pg';
import { uploadTable } from './db.js';
import { candidateKeys, type CandidatesByUpload } from './matchCandidates.js';

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
  /** Candidate keys found beforehand, outside the pair locks (runMatchAnalyses); other uploads' are found here. */
  precomputed?: CandidatesByUpload;
}

/**
 * Brings the match records of every pair {state, other} in step with the two states' active uploads: each lds_hash
 * both hold is one open record (created, refreshed, or opened again under its deterministic id), and an open record
 * whose hash either side no longer holds is closed. Records their states closed (dispositions) stay closed, and a
 * record's side that a real-time query named (no upload) is never closed by an upload. The caller holds the pair locks, so no other evaluation of these
 * pairs runs meanwhile.
 *
 * The candidate keys (found beforehand or here, see candidateKeys) go straight into one statement, over the uploads'
 * own tables (never the partitioned table or the active view, whose plans probe every row): it looks the candidates
 * up, names each shared hash by its id and writes the records, and only counts a pair while both uploads are the
 * active ones in its snapshot: a partial, failed or superseded upload never opens or closes a record.
 */
export async function evaluatePairs(client: pg.PoolClient, evaluation: Evaluation): Promise<PairChanges[]> {
  if (evaluation.others.length === 0) return [];
  // The statement keeps ~100k-row intermediate results: in memory rather than in temporary files. A cache in front of
  // each lookup never hits (each candidate is looked up once) and cost ~10 % of the lookups.
  await client.query(`SET LOCAL work_mem = '64MB'; SET LOCAL enable_memoize = off`);
  return writeRecords(client, evaluation, await candidateSources(client, evaluation));
}

/**
 * Per other upload, its candidate keys in key order as a subquery over an array parameter ($5 on: writeRecords' own
 * parameters come first): found beforehand (precomputed) or now.
 */
async function candidateSources(client: pg.PoolClient, { uploadId, others, precomputed }: Evaluation): Promise<{ keys: string[]; params: unknown[] }> {
  const rest = others.map((other) => other.uploadId).filter((other) => !precomputed?.has(other));
  const found = rest.length > 0 ? await candidateKeys(client, uploadId, rest) : undefined;
  const params = others.map((other) => precomputed?.get(other.uploadId) ?? found!.get(other.uploadId)!);
  return { keys: params.map((_, i) => `(SELECT lds_key FROM unnest($${i + 5}::bigint[]) lds_key ORDER BY lds_key)`), params };
}

/**
 * One pair's shared hashes, each once with the lowest participant_id holding it in the own upload and in the other
 * (columns lds_hash, own_participant, own_case, other_participant, other_case). `keys`: a subquery of candidate lds_key
 * values in key order (candidateKeys); only those are looked up, once in each upload's lookup index, and the full
 * hashes compared. Each lookup is a lateral subquery the planner cannot flatten (OFFSET 0), so it is always an index
 * probe per candidate whatever the rest of the statement's plan: left to choose, the planner hashes or merges whole
 * tables. The lowest participants are picked in one sort of the rows found: picked per key by a sort each (DISTINCT
 * ON and ORDER BY .. LIMIT 1 in the lateral subquery), two tiny sorts per candidate cost ~30 % more.
 */
export function sharedRowsSql(ownUploadId: string, otherUploadId: string, keys: string): string {
  return `SELECT DISTINCT ON (x.lds_hash) x.lds_hash, x.participant_id AS own_participant, x.case_id AS own_case,
                 y.participant_id AS other_participant, y.case_id AS other_case
          FROM ${keys} c
          CROSS JOIN LATERAL (SELECT lds_hash, participant_id, case_id FROM ${uploadTable(ownUploadId).qualified} WHERE lds_key = c.lds_key OFFSET 0) x
          CROSS JOIN LATERAL (SELECT participant_id, case_id FROM ${uploadTable(otherUploadId).qualified}
                              WHERE lds_key = c.lds_key AND lds_hash = x.lds_hash OFFSET 0) y
          ORDER BY x.lds_hash, x.participant_id, y.participant_id`;
}

/**
 * The records' statement. `shared`: each pair's shared hashes under their ids; the id, an HMAC (~3 us each), is
 * computed there once per hash: computed where the existing records are joined by id, it was evaluated twice, for the
 * join and for the output. `found`: the same beside each record as it is, for the pairs still active.
 */
async function writeRecords(client: pg.PoolClient, evaluation: Evaluation, candidates: { keys: string[]; params: unknown[] }): Promise<PairChanges[]> {
  const branches = evaluation.others.map(({ uploadId: otherId }, i) => {
    const otherState = `($4::text[])[${i + 1}]`;
    return `SELECT bulkflow.match_id((SELECT key FROM bulkflow.match_id_key), least($3::text, ${otherState}), greatest($3::text, ${otherState}), s.lds_hash) AS match_id,
                   ${otherState} AS other_state, ($2::text[])[${i + 1}] AS other_upload, s.*
            FROM (${sharedRowsSql(evaluation.uploadId, otherId, candidates.keys[i]!)}) s`;
  });
  const { rows } = await client.query<{ state: string; open: number; opened: number; closed: number; collisions: number }>(
    `WITH pairs AS MATERIALIZED (
       SELECT a.state, a.upload_id FROM bulkflow.active_uploads a
       WHERE a.upload_id = ANY($2::text[]) AND EXISTS (SELECT 1 FROM bulkflow.active_uploads own WHERE own.upload_id = $1)
     ),
     shared AS MATERIALIZED (
       ${branches.join('\n       UNION ALL\n       ')}
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
         FROM shared f JOIN pairs p ON p.upload_id = f.other_upload
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
           -- The upload that no longer holds the hash: this one, or else the other state's. One index probe per record
           -- (OFFSET 0): hashed instead, it read the whole upload, and per record when the planner misjudged.
           closed_by_upload = CASE WHEN EXISTS (SELECT 1 FROM ${uploadTable(evaluation.uploadId).qualified} n
                                                WHERE n.lds_key = bulkflow.lds_key(m.lds_hash) AND n.lds_hash = m.lds_hash OFFSET 0)
                                   THEN p.upload_id ELSE $1 END
       FROM pairs p
       WHERE m.closed_at IS NULL
         AND ((m.state_a = $3 AND m.state_b = p.state) OR (m.state_b = $3 AND m.state_a = p.state))
         -- The state's open records that found lacks, as a set difference: hashed or sorted, never a scan of found per
         -- record, whatever the planner guesses of found's size (its estimate of the lookups' rows is no guide).
         AND m.match_id IN (SELECT o.match_id FROM bulkflow.matches o WHERE o.closed_at IS NULL AND (o.state_a = $3 OR o.state_b = $3)
                            EXCEPT SELECT match_id FROM found)
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
    [evaluation.uploadId, evaluation.others.map((other) => other.uploadId), evaluation.state, evaluation.others.map((other) => other.state), ...candidates.params],
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
