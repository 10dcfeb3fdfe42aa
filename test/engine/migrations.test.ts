import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { activateUpload, migrate, planUpload, registerUpload } from '../../src/engine/index.js';
import { uploadTable } from '../../src/engine/db.js';
import { migrationsDirectory } from '../../src/engine/migrate.js';
import { useTestPool } from '../support/database.js';
import { csvSource, ingest } from '../support/engineDatabase.js';
import { hashOf } from '../support/uploads.js';
import { runMatchAnalysis } from '../../src/engine/matchAnalysis.js';

const file = (from: number, to: number) => `lds_hash,participant_id\n${Array.from({ length: to - from }, (_, i) => `${hashOf(from + i)},P${from + i}`).join('\n')}\n`;

/**
 * Makes a committed upload its state's active one as releases before the lookup key did (today's activation builds
 * the key's index): its indexes, attached, active, complete.
 */
async function activateAsEarlierRelease(client: pg.PoolClient, uploadId: string, state: string, rows: number): Promise<void> {
  const table = uploadTable(uploadId);
  await client.query(`CREATE INDEX ${table.name}_participant_id ON ${table.qualified} (participant_id, line)`);
  await client.query(`CREATE INDEX ${table.name}_lds_hash ON ${table.qualified} (lds_hash) WITH (fillfactor = 100, deduplicate_items = off)`);
  await client.query(`ALTER TABLE bulkflow.participants ATTACH PARTITION ${table.qualified} FOR VALUES IN ('${uploadId}')`);
  await client.query('INSERT INTO bulkflow.active_uploads (state, upload_id) VALUES ($1, $2)', [state, uploadId]);
  await client.query(
    `UPDATE bulkflow.uploads SET status = 'complete', finalized_at = now(), completed_at = now(), rows_committed = $2, rows_rejected = 0
     WHERE upload_id = $1`,
    [uploadId, rows],
  );
}

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
      if (!inFlight) await activateAsEarlierRelease(client, uploadId, state, to - from);
    } finally {
      client.release();
    }
    return { uploadId };
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
  const { db, pool } = useTestPool('migrations');

  it('keeps active rows and uploads in flight, lds_hash as its bytes, and both still match and activate', async () => {
    await up(db.url, 2); // the schema before lds_hash became bytea
    const { rows: [before] } = await pool.query<{ type: string }>(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'bulkflow.participants'::regclass AND attname = 'lds_hash'`,
    );
    expect(before!.type).toBe('text');
    // One upload active (its table a partition with the lookup index), one committed but not yet activated.
    await ingestAsPreviousRelease(pool, 0, 30, 'AA');
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

// The lookup index moved from the 64-byte hash to lds_key, its first 8 bytes: rows, indexes and records written before
// must come through, match ids unchanged, and the engine's keys must be the ones SQL computes.
describe('migrating to the 8-byte lookup key', () => {
  const { db, pool } = useTestPool('migrations_key');

  /** An upload of hashes from..to-1 loaded and (unless in flight) made active as the release before the key did it. */
  async function asReleaseBeforeKey(from: number, to: number, state: string, inFlight = false): Promise<string> {
    const source = await csvSource(file(from, to));
    try {
      const { uploadId } = await registerUpload(pool, { state, source: `${state.toLowerCase()}.csv`, etag: '1' });
      expect((await planUpload(pool, uploadId, source, {})).ok).toBe(true);
      const table = uploadTable(uploadId);
      const client = await pool.connect();
      try {
        const copy = client.query(copyFrom(`COPY ${table.qualified} (line, lds_hash, participant_id) FROM STDIN (FORMAT csv)`));
        copy.end(Array.from({ length: to - from }, (_, i) => `${i + 2},\\x${hashOf(from + i)},P${from + i}\n`).join(''));
        await new Promise((done, fail) => copy.on('finish', done).on('error', fail));
        await client.query('INSERT INTO bulkflow.chunk_ledger (upload_id, chunk_no, rows_committed, rows_rejected) VALUES ($1, 0, $2, 0)', [uploadId, to - from]);
        if (!inFlight) await activateAsEarlierRelease(client, uploadId, state, to - from);
      } finally {
        client.release();
      }
      return uploadId;
    } finally {
      await source.remove();
    }
  }

  it('gives every row its key, swaps the lookup index, keeps match ids, and the engine writes the same keys', async () => {
    const files = readdirSync(migrationsDirectory()).sort();
    await up(db.url, files.indexOf(files.find((name) => name.endsWith('_lds-key.sql'))!));
    const aa = await asReleaseBeforeKey(0, 30, 'AA');
    const bb = await asReleaseBeforeKey(20, 50, 'BB');
    const cc = await asReleaseBeforeKey(25, 35, 'CC', true);
    // The records the release before opened for AA-BB (hashes 20..29), under the same id function.
    await pool.query(
      `INSERT INTO bulkflow.matches (match_id, state_a, state_b, lds_hash, initiating_state, a_participant_id, a_upload_id, b_participant_id, b_upload_id)
       SELECT bulkflow.match_id(k.key, 'AA', 'BB', a.lds_hash), 'AA', 'BB', a.lds_hash, 'BB', a.participant_id, $1, b.participant_id, $2
       FROM ${uploadTable(aa).qualified} a JOIN ${uploadTable(bb).qualified} b USING (lds_hash) CROSS JOIN bulkflow.match_id_key k`,
      [aa, bb],
    );
    const idsBefore = (await pool.query<{ match_id: string }>('SELECT match_id FROM bulkflow.matches ORDER BY match_id')).rows.map((r) => r.match_id);
    expect(idsBefore).toHaveLength(10);

    await migrate(db.url);

    for (const uploadId of [aa, bb, cc]) {
      const table = uploadTable(uploadId);
      const { rows: [keys] } = await pool.query<{ rows: number; wrong: number }>(
        `SELECT count(*)::int AS rows, count(*) FILTER (WHERE lds_key IS DISTINCT FROM bulkflow.lds_key(lds_hash))::int AS wrong FROM ${table.qualified}`,
      );
      expect(keys).toEqual({ rows: uploadId === cc ? 10 : 30, wrong: 0 });
      const { rows: indexes } = await pool.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE tablename = $1 AND indexname LIKE '%_lds_%' `, [table.name]);
      expect(indexes.map((i) => i.name)).toEqual(uploadId === cc ? [] : [`${table.name}_lds_key`]);
    }
    // The key is the hash's first 8 bytes, big-endian and signed.
    const { rows: [signed] } = await pool.query<{ key: string }>(`SELECT bulkflow.lds_key(decode(repeat('ff', 64), 'hex'))::text AS key`);
    expect(signed!.key).toBe('-1');

    // The upload in flight activates under the new code; a new one goes through today's encoder.
    expect(await activateUpload(pool, cc)).toMatchObject({ status: 'complete', rowsCommitted: 10 });
    const { uploadId: dd } = await ingest(pool, `lds_hash,participant_id\n${['f'.repeat(128), '8'.repeat(128), hashOf(7), hashOf(33)].map((h, i) => `${h},D${i}`).join('\n')}\n`, { state: 'DD' });
    const { rows: [engine] } = await pool.query<{ wrong: number; keys: string[] }>(
      `SELECT count(*) FILTER (WHERE lds_key IS DISTINCT FROM bulkflow.lds_key(lds_hash))::int AS wrong, array_agg(lds_key::text ORDER BY line) AS keys
       FROM ${uploadTable(dd).qualified}`,
    );
    // hashOf's keys: its first 8 bytes as a signed big-endian integer.
    const keyOf = (hash: string) => BigInt.asIntN(64, BigInt(`0x${hash.slice(0, 16)}`)).toString();
    expect(engine).toEqual({ wrong: 0, keys: ['-1', '-8608480567731124088', keyOf(hashOf(7)), keyOf(hashOf(33))] });

    // Matching finds the same pairs under the same ids: AA-BB's records stay as they were, not opened again.
    const run = await runMatchAnalysis(pool, `${bb}.completed`, bb);
    expect(run.results).toEqual(expect.arrayContaining([
      { state: 'AA', matches: 10, new: 0, closed: 0 }, { state: 'CC', matches: 10, new: 10, closed: 0 }, { state: 'DD', matches: 1, new: 1, closed: 0 },
    ]));
    const ids = (await pool.query<{ match_id: string }>(`SELECT match_id FROM bulkflow.matches WHERE state_a = 'AA' AND state_b = 'BB' ORDER BY match_id`)).rows.map((r) => r.match_id);
    expect(ids).toEqual(idsBefore);
    expect((await runMatchAnalysis(pool, `${dd}.completed`, dd)).results).toEqual(expect.arrayContaining([
      // DD's record with BB was opened by BB's run just before (DD was active by then).
      { state: 'AA', matches: 1, new: 1, closed: 0 }, { state: 'BB', matches: 1, new: 0, closed: 0 }, { state: 'CC', matches: 1, new: 1, closed: 0 },
    ]));
  });
});
