import type pg from 'pg';

export interface MatchCount {
  state: string;
  matches: number;
}

export interface MatchRun {
  eventId: string;
  uploadId: string;
  outcome: 'matched' | 'skipped';
  results: MatchCount[];
  /** False when this event was processed before (a replay): the stored run is returned unchanged. */
  computed: boolean;
}

/**
 * For a newly active upload, counts the distinct lds_hash values it shares with every other state's active
 * upload, in one set-based statement over the active view only, and stores the run keyed by the event id.
 */
export async function runMatchAnalysis(pool: pg.Pool, eventId: string, uploadId: string): Promise<MatchRun> {
  const { rows } = await pool.query<{ outcome: MatchRun['outcome']; results: MatchCount[] }>(
    `WITH target AS (
       SELECT a.state FROM bulkflow.active_uploads a WHERE a.upload_id = $2
     ), counts AS (
       SELECT o.state, count(DISTINCT o.lds_hash)::int AS matches
       FROM bulkflow.active_participants o
       JOIN bulkflow.active_participants n ON n.lds_hash = o.lds_hash AND n.upload_id = $2
       WHERE o.state <> (SELECT state FROM target)
       GROUP BY o.state
     )
     INSERT INTO bulkflow.match_runs (event_id, upload_id, state, outcome, results)
     SELECT $1, u.upload_id, u.state,
            CASE WHEN EXISTS (SELECT 1 FROM target) THEN 'matched' ELSE 'skipped' END,
            coalesce((SELECT jsonb_agg(jsonb_build_object('state', state, 'matches', matches) ORDER BY state) FROM counts), '[]')
     FROM bulkflow.uploads u WHERE u.upload_id = $2
     ON CONFLICT (event_id) DO NOTHING
     RETURNING outcome, results`,
    [eventId, uploadId],
  );
  if (rows[0]) return { eventId, uploadId, ...rows[0], computed: true };
  const stored = await pool.query<{ outcome: MatchRun['outcome']; results: MatchCount[] }>(
    'SELECT outcome, results FROM bulkflow.match_runs WHERE event_id = $1',
    [eventId],
  );
  if (!stored.rows[0]) throw new Error(`match analysis: upload ${uploadId} is unknown`);
  return { eventId, uploadId, ...stored.rows[0], computed: false };
}

/** The stored run for an upload, newest first (for the CLI summary and tests). */
export async function getMatchRun(pool: pg.Pool, uploadId: string): Promise<MatchRun | undefined> {
  const { rows } = await pool.query<{ event_id: string; outcome: MatchRun['outcome']; results: MatchCount[] }>(
    'SELECT event_id, outcome, results FROM bulkflow.match_runs WHERE upload_id = $1 ORDER BY computed_at DESC LIMIT 1',
    [uploadId],
  );
  const row = rows[0];
  return row ? { eventId: row.event_id, uploadId, outcome: row.outcome, results: row.results, computed: true } : undefined;
}
