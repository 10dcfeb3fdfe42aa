import type pg from 'pg';
import { LOCK_CLASS } from './advisoryLocks.js';
import { inTransaction, type Queryable, withClient } from './db.js';
import { candidateKeys, type CandidatesByUpload } from './matchCandidates.js';
import { evaluatePairs, type PairChanges } from './matchRecords.js';
import { writeMatchesEvent } from './outbox.js';

/** A run's result for one other state: its open records with the run's state after the run, and what changed. */
export interface MatchCount {
  state: string;
  matches: number;
  new: number;
  closed: number;
}

export interface MatchRun {
  eventId: string;
  uploadId: string;
  state: string;
  outcome: 'matched' | 'skipped';
  results: MatchCount[];
  /** False when this event was processed before (a replay): the stored run is returned unchanged. */
  computed: boolean;
}

/**
 * Match analysis for a completion event: when its upload is still its state's active upload, brings the match
 * records of every pair {its state, other state} in step with the active uploads, announces the changes to each
 * state involved (outbox, same transaction) and stores the run keyed by the event id.
 *
 * - A replayed or duplicated event changes nothing: the run row is claimed first, so a concurrent duplicate waits
 *   on it and then finds the stored run.
 * - Runs of two states that evaluate the same pair take turns (a transaction-level advisory lock per pair, taken in
 *   one global order), and each evaluates against the active uploads as they are once it holds the locks: whichever
 *   runs last sees both states' newest uploads.
 * - Nothing here locks what activation touches (activation never waits for a run); runs only wait for each other.
 * - A pair last evaluated with the same two uploads is not evaluated again (evaluatedPairs): when two states' runs
 *   both come after both activations, the first evaluates their pair and the second counts its records.
 */
export async function runMatchAnalysis(pool: pg.Pool, eventId: string, uploadId: string): Promise<MatchRun> {
  const [run] = await runMatchAnalyses(pool, [{ eventId, uploadId }]);
  return run!;
}

const UNDEFINED_TABLE = '42P01';

/** A completion event to run match analysis for. */
export interface MatchEvent {
  eventId: string;
  uploadId: string;
}

/**
 * Match runs for a batch of completion events (as the Event Hubs trigger delivers them), in order, each as
 * runMatchAnalysis would run it alone. The expensive part of a run, probing its keys against the other active uploads'
 * key filters (candidateKeys), reads only immutable data: it is done first for every run of the batch, outside the
 * pair locks, which serialize the runs of all states (any two share a pair). Runs of other partitions' batches then
 * probe side by side instead of one after another; a run finds the keys of uploads activated since, under its locks.
 */
export async function runMatchAnalyses(pool: pg.Pool, events: readonly MatchEvent[]): Promise<MatchRun[]> {
  if (events.length === 0) return [];
  return withClient(pool, async (client) => {
    const precomputed = await precomputeCandidates(client, events);
    const runs: MatchRun[] = [];
    for (const { eventId, uploadId } of events) {
      const computed = await inTransaction(client, (tx) => matchRunInTransaction(tx, eventId, uploadId, precomputed.get(uploadId)));
      const run = computed ?? (await storedRun(client, 'event_id', eventId));
      if (!run) throw new Error(`match analysis: upload ${uploadId} is unknown`);
      runs.push(run);
    }
    return runs;
  });
}

/**
 * The keys each event's upload (when active and not yet run) may share with each other active upload: per upload, its
 * candidate keys by other upload. Kept in memory for the runs (a few MB: shared keys and the filters' false positives);
 * a temporary table for them, with its index, cost ~0.5 s per 100k candidates.
 */
async function precomputeCandidates(client: pg.PoolClient, events: readonly MatchEvent[]): Promise<Map<string, CandidatesByUpload>> {
  const { rows } = await client.query<{ state: string; upload_id: string; pending: boolean }>(
    `SELECT a.state, a.upload_id,
            a.upload_id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM bulkflow.match_runs r WHERE r.event_id = ANY($2::text[]) AND r.upload_id = a.upload_id) AS pending
     FROM bulkflow.active_uploads a`,
    [events.map((event) => event.uploadId), events.map((event) => event.eventId)],
  );
  const found = new Map<string, CandidatesByUpload>();
  // The batch's runs go in event order, and the first of two runs sharing a pair evaluates it: the later one's
  // candidates with the earlier one's upload would not be used.
  const position = (uploadId: string) => events.findIndex((event) => event.uploadId === uploadId);
  const runsBefore = (x: string, y: string) => position(x) < position(y);
  for (const { state, upload_id: own, pending } of rows) {
    if (!pending) continue;
    const partners = rows
      .filter((row) => row.upload_id !== own && !(row.pending && runsBefore(row.upload_id, own)))
      .map((row) => ({ state: row.state, uploadId: row.upload_id }));
    // Read outside the pair locks: a pair evaluated meanwhile is skipped under them all the same.
    const settled = await evaluatedPairs(client, state, own, partners);
    const others = partners.filter((other) => !settled.has(other.state)).map((other) => other.uploadId);
    if (others.length === 0) continue;
    try {
      found.set(own, await inTransaction(client, (tx) => candidateKeys(tx, own, others)));
    } catch (error) {
      // Superseded meanwhile and its table dropped by housekeeping: the run finds its keys under its locks.
      if ((error as { code?: string }).code !== UNDEFINED_TABLE) throw error;
    }
  }
  return found;
}

/** The run inside the caller's transaction; undefined when the event was processed before (or the upload is unknown). */
export async function matchRunInTransaction(client: pg.PoolClient, eventId: string, uploadId: string, precomputed?: CandidatesByUpload): Promise<MatchRun | undefined> {
  const claim = await client.query<{ state: string }>(
    `INSERT INTO bulkflow.match_runs (event_id, upload_id, state, outcome, results)
     SELECT $1, upload_id, state, 'skipped', '[]' FROM bulkflow.uploads WHERE upload_id = $2
     ON CONFLICT (event_id) DO NOTHING RETURNING state`,
    [eventId, uploadId],
  );
  const state = claim.rows[0]?.state;
  if (!state) return undefined;
  const skipped: MatchRun = { eventId, uploadId, state, outcome: 'skipped', results: [], computed: true };

  const before = await activeUploads(client);
  if (before.get(state) !== uploadId) return skipped;
  const others = [...before.keys()].filter((other) => other !== state);
  await lockPairs(client, state, others);
  // Read again under the locks: uploads activated while this run waited are the ones to evaluate.
  const current = await activeUploads(client);
  if (current.get(state) !== uploadId) return skipped;
  const pairs = others.map((other) => ({ state: other, uploadId: current.get(other)! }));
  const settled = await evaluatedPairs(client, state, uploadId, pairs);
  const pending = pairs.filter((pair) => !settled.has(pair.state));
  const changes = await evaluatePairs(client, { uploadId, state, others: pending, ...(precomputed ? { precomputed } : {}) });
  await recordEvaluations(client, state, uploadId, pending);
  changes.push(...(await openRecords(client, state, uploadId, pairs.filter((pair) => settled.has(pair.state)))));
  changes.sort((x, y) => (x.state < y.state ? -1 : 1));
  const results = changes.map(({ state: other, open, opened, closed }) => ({ state: other, matches: open, new: opened, closed }));
  await announce(client, eventId, uploadId, state, changes);
  await client.query(`UPDATE bulkflow.match_runs SET outcome = 'matched', results = $2 WHERE event_id = $1`, [eventId, JSON.stringify(results)]);
  return { ...skipped, outcome: 'matched', results } satisfies MatchRun;
}

/** The latest stored run for an upload (for the CLI summary and tests). */
export async function getMatchRun(pool: pg.Pool, uploadId: string): Promise<MatchRun | undefined> {
  return storedRun(pool, 'upload_id', uploadId);
}

/**
 * One `gov.bulkflow.matches.updated` per state involved: the run's own state always (totals over its pairs), and
 * each other state whose records with it were opened or closed.
 */
async function announce(client: pg.PoolClient, runId: string, uploadId: string, uploadState: string, changes: PairChanges[]): Promise<void> {
  const event = (state: string, counts: PairChanges[]) => ({
    state, runId, uploadId, uploadState,
    new: sum(counts, (c) => c.opened),
    stillOpen: sum(counts, (c) => c.open - c.opened),
    closed: sum(counts, (c) => c.closed),
  });
  await writeMatchesEvent(client, event(uploadState, changes));
  for (const pair of changes) {
    if (pair.opened + pair.closed > 0) await writeMatchesEvent(client, event(pair.state, [pair]));
  }
}

type Pair = { state: string; uploadId: string };

/** The pairs {state, other} as stored (state_a < state_b, each with its upload), as four parallel arrays for unnest. */
function pairColumns(state: string, uploadId: string, others: readonly Pair[]): [string[], string[], string[], string[]] {
  const columns: [string[], string[], string[], string[]] = [[], [], [], []];
  for (const other of others) {
    const [a, b] = state < other.state ? [{ state, uploadId }, other] : [other, { state, uploadId }];
    columns[0].push(a.state);
    columns[1].push(b.state);
    columns[2].push(a.uploadId);
    columns[3].push(b.uploadId);
  }
  return columns;
}

/**
 * The other states whose pair with this one was last evaluated with these same two uploads: its records are as an
 * evaluation would leave them (an evaluation depends only on the two uploads, which never change once active, and the
 * records, which only evaluations of the pair change as the uploads dictate), so it is not evaluated again.
 */
export async function evaluatedPairs(db: Queryable, state: string, uploadId: string, others: readonly Pair[]): Promise<Set<string>> {
  const { rows } = await db.query<{ state_a: string; state_b: string }>(
    `SELECT e.state_a, e.state_b FROM bulkflow.pair_evaluations e
     JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) p (state_a, state_b, upload_a, upload_b)
       ON (e.state_a, e.state_b, e.upload_a, e.upload_b) = (p.state_a, p.state_b, p.upload_a, p.upload_b)`,
    pairColumns(state, uploadId, others),
  );
  return new Set(rows.map((row) => (row.state_a === state ? row.state_b : row.state_a)));
}

async function recordEvaluations(client: pg.PoolClient, state: string, uploadId: string, others: readonly Pair[]): Promise<void> {
  if (others.length === 0) return;
  await client.query(
    `INSERT INTO bulkflow.pair_evaluations (state_a, state_b, upload_a, upload_b)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT (state_a, state_b) DO UPDATE SET upload_a = excluded.upload_a, upload_b = excluded.upload_b, evaluated_at = now()`,
    pairColumns(state, uploadId, others),
  );
}

/**
 * A settled pair's part of the run's results: its open records that both uploads hold (what an evaluation counts as
 * open), nothing opened or closed. Pairs without open records are left out, as an evaluation leaves them out.
 */
async function openRecords(client: pg.PoolClient, state: string, uploadId: string, others: readonly Pair[]): Promise<PairChanges[]> {
  if (others.length === 0) return [];
  const { rows } = await client.query<{ state_a: string; state_b: string; open: number }>(
    `SELECT p.state_a, p.state_b, count(*)::int AS open
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) p (state_a, state_b, upload_a, upload_b)
     JOIN bulkflow.matches m ON m.state_a = p.state_a AND m.state_b = p.state_b AND m.closed_at IS NULL
                            AND m.a_upload_id = p.upload_a AND m.b_upload_id = p.upload_b
     GROUP BY p.state_a, p.state_b`,
    pairColumns(state, uploadId, others),
  );
  return rows.map((row) => ({ state: row.state_a === state ? row.state_b : row.state_a, open: row.open, opened: 0, closed: 0 }));
}

async function activeUploads(client: pg.PoolClient): Promise<Map<string, string>> {
  const { rows } = await client.query<{ state: string; upload_id: string }>('SELECT state, upload_id FROM bulkflow.active_uploads');
  return new Map(rows.map((row) => [row.state, row.upload_id]));
}

async function storedRun(pool: Queryable, key: 'event_id' | 'upload_id', value: string): Promise<MatchRun | undefined> {
  const { rows } = await pool.query<{ event_id: string; upload_id: string; state: string; outcome: MatchRun['outcome']; results: MatchCount[] }>(
    `SELECT event_id, upload_id, state, outcome, results FROM bulkflow.match_runs WHERE ${key} = $1 ORDER BY computed_at DESC LIMIT 1`,
    [value],
  );
  const row = rows[0];
  return row
    ? { eventId: row.event_id, uploadId: row.upload_id, state: row.state, outcome: row.outcome, results: row.results, computed: false }
    : undefined;
}

/**
 * Takes the transaction-level locks of the pairs {state, other}, in the one global order every caller uses (match
 * runs and real-time queries), so two writers of the same pair's records take turns and never deadlock.
 */
export async function lockPairs(client: pg.PoolClient, state: string, others: readonly string[]): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($2), key) FROM unnest($1::int[]) AS key', [
    others.map((other) => pairLockKey(state, other)).sort((x, y) => x - y),
    LOCK_CLASS.matchPair,
  ]);
}

/** A distinct lock key per unordered state pair: both states' runs compute the same key, and no two pairs share one. */
export function pairLockKey(x: string, y: string): number {
  const index = (state: string) => (state.charCodeAt(0) - 65) * 26 + (state.charCodeAt(1) - 65);
  const [a, b] = x < y ? [x, y] : [y, x];
  return index(a) * 676 + index(b);
}

function sum(items: PairChanges[], pick: (item: PairChanges) => number): number {
  return items.reduce((total, item) => total + pick(item), 0);
}
