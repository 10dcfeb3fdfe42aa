import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { activateUpload, migrate, planUpload, registerUpload } from '../../src/engine/index.js';
import { uploadTable } from '../../src/engine/db.js';
import { migrationsDirectory } from '../../src/engine/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { csvSource } from '../support/engineDatabase.js';
import { hashOf } from '../support/uploads.js';

const file = (from: number, to: number) => `lds_hash,participant_id\n${Array.from({ length: to - from }, (_, i) => `${hashOf(from + i)},P${from + i}`).join('\n')}\n`;

/**
 * Registers, plans and commits a file of valid rows the way the release before the bytea migration did: COPY CSV with
 * lds_hash as its hex text (today's encoder writes binary COPY for today's schema). Activates it unless `inFlight`.
 */
async function ingestAsPreviousRelease(pool: pg.Pool, from: number, to: number, state: string, inFlight = false) {
  const source = await csvSource(file(from, to));
  try {
    const { uploadId } = await registerUpload(pool, { state, source: `${state.toLowerCase()}.csv`, etag: '1' });
    const planned = await planUpload(pool, uploadId, source, {});
    expect(planned.ok).toBe(true);
    const client = await pool.connect();
    try {
      const copy = client.query(copyFrom(`COPY ${uploadTable(uploadId).qualified} (line, lds_hash, participant_id) FROM STDIN (FORMAT csv)`));
      copy.end(Array.from({ length: to - from }, (_, i) => `${i + 2},${hashOf(from + i)},P${from + i}\n`).join(''));
      await new Promise((done, fail) => copy.on('finish', done).on('error', fail));
      await client.query(
        'INSERT INTO bulkflow.chunk_ledger (upload_id, chunk_no, rows_committed, rows_rejected) VALUES ($1, 0, $2, 0)',
        [uploadId, to - from],
      );
    } finally {
      client.release();
    }
    return { uploadId, activation: inFlight ? undefined : await activateUpload(pool, uploadId) };
  } finally {
    await source.remove();
  }
}

const up = (url: string, count: number) => runner({
  databaseUrl: url, dir: migrationsDirectory(), direction: 'up', count, migrationsTable: 'pgmigrations',
  migrationsSchema: 'bulkflow', createMigrationsSchema: true, checkOrder: true, log: () => {},
});

// lds_hash moved from hex text to bytea: data written under the old schema must come through intact.
describe('migrating a database that already holds uploads', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase('migrations');
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('keeps active rows and uploads in flight, lds_hash as its bytes, and both still match and activate', async () => {
    await up(db.url, 2); // the schema before lds_hash became bytea
    const { rows: [before] } = await pool.query<{ type: string }>(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'bulkflow.participants'::regclass AND attname = 'lds_hash'`,
    );
    expect(before!.type).toBe('text');
    // One upload active (its table a partition with the lookup index), one committed but not yet activated.
    const active = await ingestAsPreviousRelease(pool, 0, 30, 'AA');
    expect(active.activation).toMatchObject({ status: 'complete', rowsCommitted: 30 });
    const inFlight = await ingestAsPreviousRelease(pool, 20, 50, 'BB', true);
    const { rows: [old] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE lds_hash = $1`, [hashOf(5)]);
    expect(old!.n).toBe(1);

    await migrate(db.url);

    const { rows: columns } = await pool.query<{ relname: string; type: string }>(
      `SELECT c.relname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'bulkflow' AND a.attname = 'lds_hash' AND c.relkind IN ('r', 'p') AND c.relname LIKE 'participants%'`,
    );
    expect(columns.length).toBe(3); // the parent and both upload tables
    expect(columns.every((c) => c.type === 'bytea')).toBe(true);
    const { rows: stored } = await pool.query<{ hex: string }>(`SELECT encode(lds_hash, 'hex') AS hex FROM bulkflow.active_participants WHERE state = 'AA' ORDER BY line`);
    expect(stored.map((r) => r.hex)).toEqual(Array.from({ length: 30 }, (_, i) => hashOf(i)));

    const activated = await activateUpload(pool, inFlight.uploadId);
    expect(activated).toMatchObject({ status: 'complete', rowsCommitted: 30 });
    const { rows: [shared] } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bulkflow.active_participants a JOIN bulkflow.active_participants b ON a.lds_hash = b.lds_hash
       WHERE a.state = 'AA' AND b.state = 'BB'`,
    );
    expect(shared!.n).toBe(10); // hashes 20..29 are in both files
  });
});
