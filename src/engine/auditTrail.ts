import type pg from 'pg';

/** One request as the audit trail keeps it (NIST SP 800-53 AU-3: what, when, where, source, outcome, identity). */
export interface AuditEntry {
  /** The token's object id and the client application that asked for it. */
  readonly callerId: string;
  readonly clientId: string;
  readonly roles: readonly string[];
  /** Every state whose data the request touched. */
  readonly states: readonly string[];
  /** The function name of the route, and the HTTP method. */
  readonly route: string;
  readonly method: string;
  /** Which of the route's actions the request took, when it takes several (the console's rewind, restart, terminate). */
  readonly action?: string;
  /** Upload, match or instance ids the request named or the answer returned. */
  readonly objectIds: readonly string[];
  /** Participant-level records returned; null when the answer carries none (a change). */
  readonly recordsReturned: number | null;
  /** Persons a real-time match query asked about (a count, never their hashes); absent for other requests. */
  readonly personsQueried?: number;
  /** The HTTP status answered. */
  readonly outcome: number;
  readonly requestId: string;
}

export interface AuditRecord extends Omit<AuditEntry, 'personsQueried' | 'action'> {
  readonly action: string | null;
  readonly personsQueried: number | null;
  readonly id: string;
  readonly at: string;
}

/** At most this many object ids are kept per record (the table checks it too); a page of match records fits. */
export const MAX_AUDIT_OBJECT_IDS = 1000;
/** The purge function refuses to delete records younger than this (migrations/1796609259945_audit-trail.sql). */
export const MIN_AUDIT_RETENTION_DAYS = 30;

/** Appends one record. Rejects when it cannot be written: the caller must then not return the data. */
export async function writeAuditRecord(pool: pg.Pool, entry: AuditEntry): Promise<void> {
  await pool.query(
    `INSERT INTO bulkflow.audit_records (caller_id, client_id, roles, states, route, method, action, object_ids, records_returned, persons_queried, outcome, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      entry.callerId, entry.clientId, [...entry.roles], [...new Set(entry.states)].sort(), entry.route, entry.method, entry.action ?? null,
      entry.objectIds.slice(0, MAX_AUDIT_OBJECT_IDS), entry.recordsReturned, entry.personsQueried ?? null, entry.outcome, entry.requestId,
    ],
  );
}

export interface AuditQuery {
  /** Only records touching one of these states; undefined: every record (operators). */
  readonly states?: readonly string[];
  readonly from?: Date;
  readonly to?: Date;
  /** The cursor: records older than this id (newest first). */
  readonly after?: string;
  readonly limit: number;
}

export interface AuditPage {
  readonly records: AuditRecord[];
  /** The cursor for `after`, null on the last page. */
  readonly next: string | null;
}

/** Records newest first (by id, the order they were written), filtered by state and time. */
export async function listAuditRecords(pool: pg.Pool, query: AuditQuery): Promise<AuditPage> {
  const { rows } = await pool.query<AuditRow>(
    `SELECT id::text, at, caller_id, client_id, roles, states, route, method, action, object_ids, records_returned, persons_queried, outcome, request_id
       FROM bulkflow.audit_records
      WHERE ($1::text[] IS NULL OR states && $1::text[])
        AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3)
        AND ($4::bigint IS NULL OR id < $4)
      ORDER BY audit_records.id DESC
      LIMIT $5`,
    [query.states ? [...query.states] : null, query.from ?? null, query.to ?? null, query.after ?? null, query.limit + 1],
  );
  const records = rows.slice(0, query.limit).map(toRecord);
  return { records, next: rows.length > query.limit ? records[records.length - 1]!.id : null };
}

/**
 * Deletes records older than `keepDays` through the one function the app may call for it (it runs as a role that
 * can delete audit rows and nothing else, and refuses fewer than MIN_AUDIT_RETENTION_DAYS). Returns how many.
 */
export async function purgeAuditRecords(pool: pg.Pool, keepDays: number): Promise<number> {
  const { rows } = await pool.query<{ deleted: string }>('SELECT bulkflow.purge_audit_records($1) AS deleted', [keepDays]);
  return Number(rows[0]!.deleted);
}

interface AuditRow {
  id: string;
  at: Date;
  caller_id: string;
  client_id: string;
  roles: string[];
  states: string[];
  route: string;
  method: string;
  action: string | null;
  object_ids: string[];
  records_returned: number | null;
  persons_queried: number | null;
  outcome: number;
  request_id: string;
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at.toISOString(),
    callerId: row.caller_id,
    clientId: row.client_id,
    roles: row.roles,
    states: row.states,
    route: row.route,
    method: row.method,
    action: row.action,
    objectIds: row.object_ids,
    recordsReturned: row.records_returned,
    personsQueried: row.persons_queried,
    outcome: row.outcome,
    requestId: row.request_id,
  };
}
