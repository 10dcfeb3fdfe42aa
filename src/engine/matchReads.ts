import type pg from 'pg';
import type { Queryable } from './db.js';
import type { ClosedReason, Disposition } from './matchDispositions.js';

export type MatchStatus = 'open' | 'closed';

/**
 * A state's own side of a match: its participant as its active upload held it, or as its real-time query named the
 * applicant (no upload then, and the ids only if the query gave them).
 */
export interface OwnSide {
  participantId: string | null;
  caseId: string | null;
  uploadId: string | null;
}

/** The other state's side: its participant fields only (never its upload ids or anything of a third state). */
export interface OtherSide {
  participantId: string | null;
  caseId: string | null;
}

/** A match record as one of its two states sees it. */
export interface MatchView {
  matchId: string;
  status: MatchStatus;
  state: string;
  otherState: string;
  initiatingState: string;
  /** What created (or last opened) the record: a bulk match run or a real-time query. */
  initiator: 'bulk' | 'query';
  participant: OwnSide;
  otherParticipant: OtherSide;
  /** Each side's current disposition (the fold of its events); {} until its state records one. */
  disposition: Disposition;
  otherDisposition: Disposition;
  /** Disposition changes so far: the ETag a change names in If-Match. */
  version: number;
  createdAt: string;
  openedAt: string;
  updatedAt: string;
  closedAt: string | null;
  /** Why it closed: an upload no longer held the hash (closedByState's), both final dispositions, or an invalid match. */
  closedReason: 'upload' | ClosedReason | null;
  /** The state whose newer upload no longer held the hash. */
  closedByState: string | null;
}

export interface PairCount {
  stateA: string;
  stateB: string;
  open: number;
  closed: number;
}

interface MatchRow {
  match_id: string;
  state_a: string;
  state_b: string;
  initiating_state: string;
  initiator: 'bulk' | 'query';
  a_participant_id: string | null;
  a_case_id: string | null;
  a_upload_id: string | null;
  b_participant_id: string | null;
  b_case_id: string | null;
  b_upload_id: string | null;
  a_disposition: Disposition;
  b_disposition: Disposition;
  version: number;
  closed_reason: MatchView['closedReason'];
  created_at: Date;
  opened_at: Date;
  updated_at: Date;
  closed_at: Date | null;
  closed_by_state: string | null;
}

const COLUMNS = `m.match_id, m.state_a, m.state_b, m.initiating_state, m.initiator, m.a_participant_id, m.a_case_id, m.a_upload_id,
  m.b_participant_id, m.b_case_id, m.b_upload_id, m.a_disposition, m.b_disposition, m.version, m.created_at, m.opened_at, m.updated_at,
  m.closed_at, m.closed_reason, m.closed_by_upload`;

/**
 * A state's match records of one status in match id order, a page at a time: pass the returned `next` as `after`.
 * Each holds the state's own side and the other state's participant fields, nothing else of the other state.
 */
export async function listStateMatches(
  pool: pg.Pool,
  state: string,
  options: { status: MatchStatus; after?: string; limit: number },
): Promise<{ matches: MatchView[]; next: string | null }> {
  // Literal status conditions, so each side's scan uses that status's partial index.
  const status = options.status === 'open' ? 'm.closed_at IS NULL' : 'm.closed_at IS NOT NULL';
  const side = (column: 'state_a' | 'state_b') =>
    `(SELECT ${COLUMNS} FROM bulkflow.matches m WHERE m.${column} = $1 AND ${status} AND m.match_id > $2 ORDER BY m.match_id LIMIT $3)`;
  const { rows } = await pool.query<MatchRow>(
    `SELECT s.*, u.state AS closed_by_state FROM (${side('state_a')} UNION ALL ${side('state_b')}) s
     LEFT JOIN bulkflow.uploads u ON u.upload_id = s.closed_by_upload
     ORDER BY s.match_id LIMIT $3`,
    [state.toUpperCase(), options.after ?? '', options.limit],
  );
  const matches = rows.map((row) => viewFor(row, state.toUpperCase()));
  return { matches, next: matches.length === options.limit ? matches[matches.length - 1]!.matchId : null };
}

/**
 * The state's open records whose own side has recorded no initial action `days` after the record opened, in match
 * id order, a page at a time (pass `next` as `after`): the caseworkers' "needs your action" list.
 */
export async function listNeedsAction(
  pool: pg.Pool,
  state: string,
  options: { days: number; after?: string; limit: number },
): Promise<{ matches: MatchView[]; next: string | null }> {
  const side = (column: 'state_a' | 'state_b', disposition: 'a_disposition' | 'b_disposition') =>
    `(SELECT ${COLUMNS} FROM bulkflow.matches m WHERE m.${column} = $1 AND m.closed_at IS NULL AND m.match_id > $2
        AND NOT m.${disposition} ? 'initial_action_at' AND m.opened_at <= now() - $4 * interval '1 day' ORDER BY m.match_id LIMIT $3)`;
  const { rows } = await pool.query<MatchRow>(
    `SELECT s.*, NULL AS closed_by_state FROM (${side('state_a', 'a_disposition')} UNION ALL ${side('state_b', 'b_disposition')}) s
     ORDER BY s.match_id LIMIT $3`,
    [state.toUpperCase(), options.after ?? '', options.limit, options.days],
  );
  const matches = rows.map((row) => viewFor(row, state.toUpperCase()));
  return { matches, next: matches.length === options.limit ? matches[matches.length - 1]!.matchId : null };
}

/** A record as `state` (one of its two states) sees it; undefined when there is none or `state` is not one of its two. */
export async function getMatch(pool: Queryable, matchId: string, state: string): Promise<MatchView | undefined> {
  const row = await matchRow(pool, matchId);
  const own = state.toUpperCase();
  return row && (row.state_a === own || row.state_b === own) ? viewFor(row, own) : undefined;
}

/** The two states of a record (for authorization); undefined when there is none. */
export async function matchStates(pool: pg.Pool, matchId: string): Promise<[string, string] | undefined> {
  const { rows } = await pool.query<{ state_a: string; state_b: string }>('SELECT state_a, state_b FROM bulkflow.matches WHERE match_id = $1', [matchId]);
  return rows[0] ? [rows[0].state_a, rows[0].state_b] : undefined;
}

/** Open and closed records per state pair, for every pair or those involving `states`: counts only. */
export async function matchPairCounts(pool: pg.Pool, states?: readonly string[]): Promise<PairCount[]> {
  const { rows } = await pool.query<{ state_a: string; state_b: string; open: number; closed: number }>(
    `SELECT state_a, state_b, count(*) FILTER (WHERE closed_at IS NULL)::int AS open, count(*) FILTER (WHERE closed_at IS NOT NULL)::int AS closed
     FROM bulkflow.matches WHERE $1::text[] IS NULL OR state_a = ANY($1) OR state_b = ANY($1)
     GROUP BY state_a, state_b ORDER BY state_a, state_b`,
    [states ? states.map((state) => state.toUpperCase()) : null],
  );
  return rows.map((row) => ({ stateA: row.state_a, stateB: row.state_b, open: row.open, closed: row.closed }));
}

async function matchRow(pool: Queryable, matchId: string): Promise<MatchRow | undefined> {
  const { rows } = await pool.query<MatchRow>(
    `SELECT ${COLUMNS}, u.state AS closed_by_state FROM bulkflow.matches m
     LEFT JOIN bulkflow.uploads u ON u.upload_id = m.closed_by_upload WHERE m.match_id = $1`,
    [matchId],
  );
  return rows[0];
}

function viewFor(row: MatchRow, state: string): MatchView {
  const ownIsA = row.state_a === state;
  const time = (value: Date) => value.toISOString();
  return {
    matchId: row.match_id,
    status: row.closed_at ? 'closed' : 'open',
    state,
    otherState: ownIsA ? row.state_b : row.state_a,
    initiatingState: row.initiating_state,
    initiator: row.initiator,
    participant: ownIsA
      ? { participantId: row.a_participant_id, caseId: row.a_case_id, uploadId: row.a_upload_id }
      : { participantId: row.b_participant_id, caseId: row.b_case_id, uploadId: row.b_upload_id },
    otherParticipant: ownIsA
      ? { participantId: row.b_participant_id, caseId: row.b_case_id }
      : { participantId: row.a_participant_id, caseId: row.a_case_id },
    disposition: ownIsA ? row.a_disposition : row.b_disposition,
    otherDisposition: ownIsA ? row.b_disposition : row.a_disposition,
    version: row.version,
    createdAt: time(row.created_at),
    openedAt: time(row.opened_at),
    updatedAt: time(row.updated_at),
    closedAt: row.closed_at ? time(row.closed_at) : null,
    closedReason: row.closed_reason,
    closedByState: row.closed_by_state,
  };
}
