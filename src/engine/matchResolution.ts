import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from './db.js';
import {
  applyPatch, changedFields, checkDisposition, closingReason, foldDispositions,
  type Disposition, type DispositionPatch, type FieldError, type MatchEvent,
} from './matchDispositions.js';
import { getMatch, type MatchView } from './matchReads.js';
import { writeDispositionEvent } from './outbox.js';

/** Who makes a change (ids only: the token's object id and client). */
export interface Actor {
  callerId: string;
  clientId: string;
}

export type ResolutionResult =
  | { ok: true; view: MatchView; changed: boolean }
  /** No such record, or `state` is not one of its two (the caller cannot tell which). */
  | { ok: false; reason: 'not_found' }
  /** The record changed since the version the caller read. */
  | { ok: false; reason: 'stale'; version: number }
  /** Closed records take no disposition changes (only an operator reopens one its states closed). */
  | { ok: false; reason: 'closed' | 'not_closed_by_states' }
  | { ok: false; reason: 'invalid'; errors: FieldError[] };

interface LockedRecord {
  state_a: string;
  state_b: string;
  version: number;
  closed_at: Date | null;
  closed_reason: string | null;
}

/**
 * Records a change to `state`'s own side of a record: appends the event (who, when, which side, what changed), makes
 * the side's current disposition again from all the record's events, closes the record when the closing rules say
 * so, and notifies the other state through the outbox, all in one transaction. The record row is locked first and
 * its version must be `ifMatch`, so of two changes made from the same version one gets `stale`. A change that
 * changes nothing records nothing and notifies no one.
 */
export async function updateDisposition(
  pool: pg.Pool,
  change: { matchId: string; state: string; actor: Actor; ifMatch: number; patch: DispositionPatch },
): Promise<ResolutionResult> {
  const state = change.state.toUpperCase();
  return withTransaction(pool, async (client) => {
    const record = await lockRecord(client, change.matchId);
    if (!record || (record.state_a !== state && record.state_b !== state)) return { ok: false, reason: 'not_found' };
    if (record.version !== change.ifMatch) return { ok: false, reason: 'stale', version: record.version };
    if (record.closed_at) return { ok: false, reason: 'closed' };

    const events = await recordEvents(client, change.matchId);
    const sides = foldDispositions(events);
    const current = sides.get(state) ?? {};
    const next = applyPatch(current, change.patch);
    const errors = checkDisposition(next);
    if (errors.length > 0) return { ok: false, reason: 'invalid', errors };
    const fields = changedFields(current, next);
    if (fields.length === 0) return { ok: true, view: (await getMatch(client, change.matchId, state))!, changed: false };

    // Only the changed fields are stored: the event says what changed, the fold rebuilds the side from all of them.
    const changes = Object.fromEntries(fields.map((field) => [field, next[field] ?? null]));
    const version = record.version + 1;
    await client.query(
      `INSERT INTO bulkflow.match_events (match_id, version, kind, state, actor, client_id, changes) VALUES ($1, $2, 'disposition', $3, $4, $5, $6)`,
      [change.matchId, version, state, change.actor.callerId, change.actor.clientId, changes],
    );
    sides.set(state, foldDispositions([...events, { version, kind: 'disposition', state, changes }]).get(state)!);
    const a: Disposition = sides.get(record.state_a) ?? {};
    const b: Disposition = sides.get(record.state_b) ?? {};
    const closed = closingReason(a, b);
    await client.query(
      `UPDATE bulkflow.matches SET a_disposition = $2, b_disposition = $3, version = $4, updated_at = now(),
              closed_at = CASE WHEN $5::text IS NULL THEN NULL ELSE now() END, closed_reason = $5
       WHERE match_id = $1`,
      [change.matchId, a, b, version, closed ?? null],
    );
    const other = state === record.state_a ? record.state_b : record.state_a;
    await writeDispositionEvent(client, randomUUID(), {
      state: other, matchId: change.matchId, changedBy: state, version, fields, status: closed ? 'closed' : 'open',
    });
    return { ok: true, view: (await getMatch(client, change.matchId, state))!, changed: true };
  });
}

/** Why an operator reopens a record its states closed (a code: operators type no free text about a person). */
export const REOPEN_REASONS = ['recorded_in_error', 'state_request'] as const;

/**
 * An operator reopens a record its states closed (final dispositions or an invalid match), so its states can change
 * their dispositions again: an event without a side, and a notification to both states. Records an upload closed
 * open again with the upload that holds the hash, not here. `ifMatch` is optional: nothing but another reopening
 * changes a closed record, and operators never read the record to learn its version. Returns the record's status and version only: an
 * operator never reads its participants.
 */
export async function reopenMatch(
  pool: pg.Pool,
  change: { matchId: string; actor: Actor; ifMatch?: number; reason: (typeof REOPEN_REASONS)[number] },
): Promise<{ ok: true; matchId: string; status: 'open'; version: number } | Exclude<ResolutionResult, { ok: true }>> {
  return withTransaction(pool, async (client) => {
    const record = await lockRecord(client, change.matchId);
    if (!record) return { ok: false, reason: 'not_found' };
    if (change.ifMatch !== undefined && record.version !== change.ifMatch) return { ok: false, reason: 'stale', version: record.version };
    if (!record.closed_at || record.closed_reason === 'upload') return { ok: false, reason: 'not_closed_by_states' };
    const version = record.version + 1;
    await client.query(
      `INSERT INTO bulkflow.match_events (match_id, version, kind, state, actor, client_id, changes) VALUES ($1, $2, 'reopened', NULL, $3, $4, $5)`,
      [change.matchId, version, change.actor.callerId, change.actor.clientId, { reason: change.reason, closed_reason: record.closed_reason }],
    );
    await client.query(
      `UPDATE bulkflow.matches SET version = $2, updated_at = now(), opened_at = now(), closed_at = NULL, closed_reason = NULL WHERE match_id = $1`,
      [change.matchId, version],
    );
    for (const state of [record.state_a, record.state_b]) {
      await writeDispositionEvent(client, randomUUID(), { state, matchId: change.matchId, changedBy: null, version, fields: [], status: 'open' });
    }
    return { ok: true, matchId: change.matchId, status: 'open', version };
  });
}

/** A record's events, oldest first (for its two states' history and the fold). */
export async function recordEvents(client: pg.PoolClient | pg.Pool, matchId: string): Promise<Array<MatchEvent & { at: string }>> {
  const { rows } = await client.query<{ version: number; kind: MatchEvent['kind']; state: string | null; changes: Record<string, unknown>; at: Date }>(
    'SELECT version, kind, state, changes, at FROM bulkflow.match_events WHERE match_id = $1 ORDER BY version',
    [matchId],
  );
  return rows.map((row) => ({ ...row, at: row.at.toISOString() }));
}

async function lockRecord(client: pg.PoolClient, matchId: string): Promise<LockedRecord | undefined> {
  const { rows } = await client.query<LockedRecord>(
    'SELECT state_a, state_b, version, closed_at, closed_reason FROM bulkflow.matches WHERE match_id = $1 FOR UPDATE',
    [matchId],
  );
  return rows[0];
}
