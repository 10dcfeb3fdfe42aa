import { describe, expect, it } from 'vitest';
import { APP_ROLE } from '../../local/src/appDatabase.js';
import { cleanupUploads } from '../../src/engine/index.js';
import { runMatchAnalysis } from '../../src/engine/matchAnalysis.js';
import { purgeClosedMatches } from '../../src/engine/matchRecords.js';
import { useAppRoleDatabase } from '../support/appRoleDatabase.js';
import { ingest } from '../support/engineDatabase.js';
import { CSV_HEADER, validRows } from '../support/uploads.js';

/**
 * The least-privilege split, as the local stack and the deploy hook make it: the administrator migrates, the app
 * connects as a login that acts only as bulkflow_app. The app's whole engine cycle works under it; nothing an
 * injected statement would want does.
 */
const { admin, app } = useAppRoleDatabase('role');

async function refusal(sql: string): Promise<string> {
  const client = await app.connect();
  try {
    await client.query(sql);
    return 'allowed';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    client.release();
  }
}

/** Runs each statement as the app and expects PostgreSQL to refuse it for want of privilege (42501). */
async function expectRefused(statements: readonly string[]): Promise<void> {
  for (const sql of statements) expect(await refusal(sql), sql).toBe('42501');
}

describe('the app role', () => {
  it('is what every app session acts as, from a login that holds nothing itself', async () => {
    const { rows } = await app.query<{ current_user: string; session_user: string }>('SELECT current_user, session_user');
    expect(rows[0]!.current_user).toBe(APP_ROLE);
    expect(rows[0]!.session_user).toMatch(/^bulkflow_login_/);
    const roles = await admin.query<{ rolname: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; rolbypassrls: boolean; rolcanlogin: boolean }>(
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY rolname`,
      [APP_ROLE, rows[0]!.session_user],
    );
    expect(roles.rows.map((r) => [r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolcanlogin])).toEqual([
      [APP_ROLE, false, false, false, false, false],
      [rows[0]!.session_user, false, false, false, false, true],
    ]);
  });

  it('cannot create a role, read pg_authid, drop or alter the schema, or act as anyone else', async () => {
    await expectRefused([
      'CREATE ROLE intruder LOGIN',
      'SELECT rolpassword FROM pg_authid',
      'DROP SCHEMA bulkflow CASCADE',
      'ALTER SCHEMA bulkflow RENAME TO elsewhere',
      'CREATE DATABASE intruder',
      'SET ROLE postgres',
      'ALTER ROLE bulkflow_app CREATEROLE',
    ]);
  });

  it('has no rights in other schemas, on the migrations table, or as its bare login', async () => {
    await admin.query('CREATE SCHEMA IF NOT EXISTS other; CREATE TABLE IF NOT EXISTS other.secrets (v text)');
    await expectRefused([
      'SELECT * FROM other.secrets',
      'CREATE TABLE public.planted (v text)',
      'CREATE TABLE other.planted (v text)',
      'SELECT * FROM bulkflow.pgmigrations',
      'DELETE FROM bulkflow.pgmigrations',
      // Without SET ROLE the login inherits nothing.
      'SET ROLE NONE; SELECT count(*) FROM bulkflow.uploads',
    ]);
  });

  it('may read and write every engine table the migrations made (a new table without a grant fails here)', async () => {
    const { rows } = await admin.query<{ table: string; writable: boolean }>(
      `SELECT c.relname AS table,
              has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS writable
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'bulkflow' AND c.relkind IN ('r', 'p', 'v') AND c.relname <> 'pgmigrations' AND NOT c.relispartition
         AND c.relname !~ '^participants_[a-z]{2}_[0-9a-f]{20}$'
       ORDER BY 1`,
      [APP_ROLE],
    );
    expect(rows.length).toBeGreaterThanOrEqual(9);
    // The match id key is read, never written: an injected statement could not change what ids mean.
    expect(rows.filter((r) => !r.writable).map((r) => r.table)).toEqual([]);
    expect(await refusal('SELECT length(key) FROM bulkflow.match_id_key')).toBe('allowed');
    expect(await refusal(`UPDATE bulkflow.match_id_key SET key = '\\x00'`)).toBe('42501');
    expect(await refusal('DELETE FROM bulkflow.match_id_key')).toBe('42501');
    // Housekeeping deletes old rate-limit counters as the app.
    expect(await refusal(`DELETE FROM bulkflow.api_rate_limits WHERE window_start < now() - interval '1 hour'`)).toBe('allowed');
  });

  it('runs the engine end to end: per-upload tables and indexes it owns, activation (attach), supersede and cleanup (drop)', async () => {
    const csv = (from: number, to: number) => `${CSV_HEADER}\n${validRows(from, to)}`;
    const first = await ingest(app, csv(0, 300), { state: 'CA', etag: '"1"' });
    expect(first.activation?.status).toBe('complete');
    const second = await ingest(app, csv(300, 500), { state: 'CA', etag: '"2"' });
    expect(second.activation?.status).toBe('complete');

    const owners = await admin.query<{ relname: string; owner: string; relkind: string }>(
      `SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'bulkflow' AND c.relname LIKE 'participants\\_ca\\_%'`,
    );
    expect(owners.rows.length).toBeGreaterThanOrEqual(3); // the active table and its indexes
    expect(new Set(owners.rows.map((r) => r.owner))).toEqual(new Set([APP_ROLE]));

    const active = await app.query<{ n: number }>(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE state = 'CA'`);
    expect(active.rows[0]!.n).toBe(200);
    // Match analysis too: a temporary table of shared hashes, the records, the announcements, then a purge.
    const tx = await ingest(app, csv(250, 350), { state: 'TX', source: 'tx/p.csv', etag: '"1"' });
    expect(await runMatchAnalysis(app, `${tx.uploadId}.completed`, tx.uploadId)).toMatchObject({ outcome: 'matched', results: [{ state: 'CA', matches: 50, new: 50 }] });
    expect(await purgeClosedMatches(app, { retentionMs: 0 })).toBe(0);

    const cleaned = await cleanupUploads(app, { retentionMs: 0 });
    expect(cleaned.cleaned).toEqual([first.uploadId]);
  });
});
