import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { listAuditRecords, purgeAuditRecords, writeAuditRecord, type AuditEntry } from '../../src/engine/auditTrail.js';
import { useAppRoleDatabase } from '../support/appRoleDatabase.js';

/** The audit trail as the app's own role sees it: it appends and reads, and removes only old rows, only by age. */
const { admin, app } = useAppRoleDatabase('audit', { appPoolMax: 2 });

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  callerId: 'caller-1', clientId: 'client-1', roles: ['State.CA'], states: ['CA'], route: 'stateMatches', method: 'GET',
  objectIds: ['m1', 'm2'], recordsReturned: 2, personsQueried: 3, outcome: 200, requestId: 'req-1', ...over,
});

async function sqlState(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<string> {
  try {
    await pool.query(sql, values);
    return 'allowed';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('the audit trail', () => {
  it('is appended and read by the app role, field for field', async () => {
    await writeAuditRecord(app, entry({ states: ['TX', 'CA', 'TX'], action: 'rewind' }));
    const page = await listAuditRecords(app, { limit: 10 });
    expect(page.records).toHaveLength(1);
    const { id, at, ...rest } = page.records[0]!;
    expect(rest).toEqual({ ...entry(), action: 'rewind', states: ['CA', 'TX'] });
    expect(Math.abs(Date.parse(at) - Date.now())).toBeLessThan(60_000);
    expect(id).toMatch(/^\d+$/);
  });

  it('cannot be changed, deleted or truncated by the app role, nor its purge function redefined', async () => {
    expect(await sqlState(app, "UPDATE bulkflow.audit_records SET outcome = 500")).toBe('42501');
    expect(await sqlState(app, "UPDATE bulkflow.audit_records SET at = at - interval '400 days'")).toBe('42501');
    expect(await sqlState(app, 'DELETE FROM bulkflow.audit_records')).toBe('42501');
    expect(await sqlState(app, 'TRUNCATE bulkflow.audit_records')).toBe('42501');
    expect(await sqlState(app, 'DROP TABLE bulkflow.audit_records')).toBe('42501');
    expect(await sqlState(app, 'ALTER TABLE bulkflow.audit_records DISABLE TRIGGER ALL')).toBe('42501');
    // A caller-chosen time would let it write records "old enough" to purge: the column is the database's clock.
    expect(await sqlState(app, "INSERT INTO bulkflow.audit_records (at, caller_id, client_id, roles, states, route, method, outcome, request_id) VALUES (now() - interval '400 days', 'x', 'x', '{}', '{}', 'r', 'GET', 200, 'x')")).toBe('42501');
    expect(await sqlState(app, 'CREATE OR REPLACE FUNCTION bulkflow.purge_audit_records(keep_days integer) RETURNS bigint LANGUAGE sql AS $$ SELECT 0::bigint $$')).toBe('42501');
    expect(await sqlState(app, 'ALTER FUNCTION bulkflow.purge_audit_records(integer) SECURITY INVOKER')).toBe('42501');
    expect(await sqlState(app, 'SET ROLE bulkflow_audit_retention')).toBe('42501');
    expect((await admin.query('SELECT count(*)::int AS n FROM bulkflow.audit_records')).rows[0].n).toBe(1);
  });

  it('loses old records only through the purge, which deletes by age and never keeps fewer than 30 days', async () => {
    await admin.query('DELETE FROM bulkflow.audit_records');
    for (const [days, request] of [[400, 'old'], [366, 'just-old'], [364, 'young'], [0, 'now']] as const) {
      await writeAuditRecord(app, entry({ requestId: request }));
      // Only the administrator can age a record (the app role cannot write `at`, test above).
      await admin.query(`UPDATE bulkflow.audit_records SET at = now() - make_interval(days => $1) WHERE request_id = $2`, [days, request]);
    }
    expect(await sqlState(app, 'SELECT bulkflow.purge_audit_records(29)')).toBe('22023');
    expect(await sqlState(app, 'SELECT bulkflow.purge_audit_records(NULL)')).toBe('22023');
    await expect(purgeAuditRecords(app, 0)).rejects.toThrow(/at least 30 days/);
    expect(await purgeAuditRecords(app, 365)).toBe(2);
    const left = await listAuditRecords(app, { limit: 10 });
    expect(left.records.map((r) => r.requestId)).toEqual(['now', 'young']);
    expect(await purgeAuditRecords(app, 365)).toBe(0);
  });

  it('pages newest first by cursor and filters by state and time', async () => {
    await admin.query('DELETE FROM bulkflow.audit_records');
    for (let i = 0; i < 5; i++) await writeAuditRecord(app, entry({ requestId: `ca-${i}`, states: ['CA'] }));
    await writeAuditRecord(app, entry({ requestId: 'ca-tx', states: ['CA', 'TX'] }));
    await writeAuditRecord(app, entry({ requestId: 'tx', states: ['TX'] }));
    const first = await listAuditRecords(app, { states: ['CA'], limit: 4 });
    expect(first.records.map((r) => r.requestId)).toEqual(['ca-tx', 'ca-4', 'ca-3', 'ca-2']);
    const second = await listAuditRecords(app, { states: ['CA'], limit: 4, after: first.next! });
    expect(second.records.map((r) => r.requestId)).toEqual(['ca-1', 'ca-0']);
    expect(second.next).toBeNull();
    expect((await listAuditRecords(app, { states: ['TX'], limit: 10 })).records.map((r) => r.requestId)).toEqual(['tx', 'ca-tx']);
    expect((await listAuditRecords(app, { limit: 10 })).records).toHaveLength(7);
    const future = new Date(Date.now() + 3_600_000);
    expect((await listAuditRecords(app, { from: future, limit: 10 })).records).toHaveLength(0);
    expect((await listAuditRecords(app, { to: future, limit: 10 })).records).toHaveLength(7);
  });
});
