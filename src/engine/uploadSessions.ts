import { randomUUID } from 'node:crypto';
import type { Queryable } from './db.js';

/**
 * Uploads in parts, as rows: which parts of which file arrived and checked out. Every request of an upload may run
 * on another app instance, so nothing about a session lives in memory; the bytes themselves are staged blocks (see
 * adapters/stagedUploads.ts), one block per part, named by the block id recorded here.
 */
export interface UploadSession {
  readonly id: string;
  readonly state: string;
  readonly fileName: string;
  readonly size: number;
  readonly partBytes: number;
  /** The whole file's SHA-256 the client declared (verified before commit), if any. */
  readonly sha256?: Buffer;
  readonly status: SessionStatus;
  readonly single: boolean;
  readonly createdAt: Date;
  readonly lastActivity: Date;
  /** The upload a committed session became. */
  readonly uploadId?: string;
  /** Why a commit was refused (a failed session) or gave up (an open one that was verifying). */
  readonly failure?: SessionFailure;
}

/**
 * open: taking parts; verifying: the commit runs (a durable activity: whole-file SHA-256, then the copy);
 * committed: stored under its name; failed: refused at commit (its staged bytes are deleted).
 */
export type SessionStatus = 'open' | 'verifying' | 'committed' | 'failed';

/** A refusal's problem title and detail: ids and reasons, never row values. */
export interface SessionFailure {
  readonly title: string;
  readonly detail: string;
}

export interface ReceivedPart {
  readonly partNumber: number;
  readonly blockId: string;
  readonly bytes: number;
  readonly sha256: Buffer;
}

export interface NewSession {
  readonly state: string;
  readonly fileName: string;
  readonly size: number;
  readonly partBytes: number;
  readonly sha256?: Buffer;
  /** A single PUT: the session lasts as long as its one request. */
  readonly single?: boolean;
}

/** How many parts a file of `size` bytes has, and how long part `n` (1-based) must be. */
export function partLayout(size: number, partBytes: number): { count: number; lengthOf: (n: number) => number } {
  const count = Math.ceil(size / partBytes);
  return { count, lengthOf: (n) => (n < count ? partBytes : size - (count - 1) * partBytes) };
}

interface SessionRow {
  id: string;
  state: string;
  file_name: string;
  size: string;
  part_bytes: number;
  sha256: Buffer | null;
  status: SessionStatus;
  single: boolean;
  created_at: Date;
  last_activity: Date;
  upload_id: string | null;
  failure: SessionFailure | null;
}

const COLUMNS = 'id, state, file_name, size, part_bytes, sha256, status, single, created_at, last_activity, upload_id, failure';
/** Sessions that hold their name: one upload of a name at a time. */
const LIVE = "status IN ('open', 'verifying')";

function toSession(row: SessionRow): UploadSession {
  return {
    id: row.id,
    state: row.state,
    fileName: row.file_name,
    size: Number(row.size),
    partBytes: row.part_bytes,
    ...(row.sha256 ? { sha256: row.sha256 } : {}),
    status: row.status,
    single: row.single,
    createdAt: row.created_at,
    lastActivity: row.last_activity,
    ...(row.upload_id ? { uploadId: row.upload_id } : {}),
    ...(row.failure ? { failure: row.failure } : {}),
  };
}

/**
 * Opens a session, or returns the one already open for the same state and file name (`existing`): one upload of a
 * name at a time, so two never race to commit the same blob.
 */
export async function openSession(db: Queryable, input: NewSession): Promise<{ session: UploadSession } | { existing: UploadSession }> {
  const { rows } = await db.query<SessionRow>(
    `INSERT INTO bulkflow.upload_sessions (id, state, file_name, size, part_bytes, sha256, status, single)
     VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)
     ON CONFLICT (state, lower(file_name)) WHERE ${LIVE} DO NOTHING
     RETURNING ${COLUMNS}`,
    [randomUUID(), input.state, input.fileName, input.size, input.partBytes, input.sha256 ?? null, input.single ?? false],
  );
  if (rows[0]) return { session: toSession(rows[0]) };
  const existing = await db.query<SessionRow>(
    `SELECT ${COLUMNS} FROM bulkflow.upload_sessions WHERE state = $1 AND lower(file_name) = lower($2) AND ${LIVE}`,
    [input.state, input.fileName],
  );
  // Ended between the two statements: open it again.
  if (!existing.rows[0]) return openSession(db, input);
  return { existing: toSession(existing.rows[0]) };
}

/** The session of `state` with this id, or undefined (an id of another state is not found either). */
export async function findSession(db: Queryable, state: string, id: string): Promise<UploadSession | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query<SessionRow>(`SELECT ${COLUMNS} FROM bulkflow.upload_sessions WHERE id = $1 AND state = $2`, [id, state]);
  return rows[0] ? toSession(rows[0]) : undefined;
}

export async function listSessions(db: Queryable, state: string): Promise<UploadSession[]> {
  const { rows } = await db.query<SessionRow>(`SELECT ${COLUMNS} FROM bulkflow.upload_sessions WHERE state = $1 ORDER BY created_at`, [state]);
  return rows.map(toSession);
}

export async function receivedParts(db: Queryable, sessionId: string): Promise<ReceivedPart[]> {
  const { rows } = await db.query<{ part_number: number; block_id: string; bytes: number; sha256: Buffer }>(
    'SELECT part_number, block_id, bytes, sha256 FROM bulkflow.upload_session_parts WHERE session_id = $1 ORDER BY part_number',
    [sessionId],
  );
  return rows.map((row) => ({ partNumber: row.part_number, blockId: row.block_id, bytes: row.bytes, sha256: row.sha256 }));
}

/**
 * Records a part whose block is staged and checked (a re-sent part replaces the earlier one). False when the
 * session is no longer open (committed, aborted or expired meanwhile): the caller discards what it staged.
 */
export async function recordPart(db: Queryable, sessionId: string, part: ReceivedPart): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH live AS (
       UPDATE bulkflow.upload_sessions SET last_activity = now() WHERE id = $1 AND status = 'open' RETURNING id
     )
     INSERT INTO bulkflow.upload_session_parts (session_id, part_number, block_id, bytes, sha256)
     SELECT id, $2, $3, $4, $5 FROM live
     ON CONFLICT (session_id, part_number) DO UPDATE
       SET block_id = EXCLUDED.block_id, bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256, received_at = now()`,
    [sessionId, part.partNumber, part.blockId, part.bytes, part.sha256],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Takes an open session for its commit: only one commit runs. With `staleMs`, also one left `verifying` that long
 * by a runner that died.
 */
export async function beginVerify(db: Queryable, sessionId: string, staleMs?: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE bulkflow.upload_sessions SET status = 'verifying', verifying_since = now(), last_activity = now(), failure = NULL
     WHERE id = $1 AND (status = 'open'
       OR (status = 'verifying' AND $2::float8 IS NOT NULL AND verifying_since < now() - make_interval(secs => $2::float8 / 1000.0)))`,
    [sessionId, staleMs ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Gives the session back to its client (parts missing, or a commit that gave up: `failure` says why). */
export async function reopenSession(db: Queryable, sessionId: string, failure?: SessionFailure): Promise<void> {
  await db.query(
    `UPDATE bulkflow.upload_sessions SET status = 'open', verifying_since = NULL, last_activity = now(), failure = $2
     WHERE id = $1 AND status IN ('open', 'verifying')`,
    [sessionId, failure ?? null],
  );
}

/**
 * Records a commit's outcome: committed as `uploadId`, or refused. The session stays readable (and frees its name)
 * until housekeeping ends it with the idle ones.
 */
export async function finishSession(db: Queryable, sessionId: string, outcome: { uploadId: string } | { failure: SessionFailure }): Promise<void> {
  const committed = 'uploadId' in outcome;
  await db.query(
    `UPDATE bulkflow.upload_sessions SET status = $2, upload_id = $3, failure = $4, verifying_since = NULL, last_activity = now()
     WHERE id = $1 AND status = 'verifying'`,
    [sessionId, committed ? 'committed' : 'failed', committed ? outcome.uploadId : null, committed ? null : outcome.failure],
  );
}

/** Forgets a session (aborted, a single PUT's, or expired); its parts go with it. */
export async function endSession(db: Queryable, sessionId: string): Promise<void> {
  await db.query('DELETE FROM bulkflow.upload_sessions WHERE id = $1', [sessionId]);
}

/** A single PUT's session is abandoned once no request could still be running it (the host ends them at 230 s). */
export const SINGLE_PUT_STALE_MS = 10 * 60_000;

/**
 * Ends the sessions no request has touched for `idleMs` (abandoned; single PUTs after SINGLE_PUT_STALE_MS), or the
 * one named by `onlyId`, and returns them: their staged bytes are due for deletion. A part that arrives after this
 * finds its session gone and discards its own block.
 */
export async function expireSessions(db: Queryable, idleMs: number, onlyId?: string): Promise<UploadSession[]> {
  const { rows } = await db.query<SessionRow>(
    `DELETE FROM bulkflow.upload_sessions
     WHERE ($3::uuid IS NULL OR id = $3)
       AND (last_activity < now() - make_interval(secs => $1 / 1000.0)
            OR (single AND last_activity < now() - make_interval(secs => $2 / 1000.0)))
     RETURNING ${COLUMNS}`,
    [idleMs, SINGLE_PUT_STALE_MS, onlyId ?? null],
  );
  return rows.map(toSession);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
