import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  activateUpload, cleanupUploads, commitChunk, CommitSlotsBusyError, getUpload, IncompleteUploadError, isTransient, listRowErrors,
  listStateUploads, planUpload, registerUpload, TransientError,
} from '../../src/engine/index.js';
import { csvSource, ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { LOCK_CLASS, UPLOAD_LOCK } from '../../src/engine/advisoryLocks.js';
import { uploadTable } from '../../src/engine/db.js';
import { FULL_HEADER, hashOf } from '../support/uploads.js';


/** n valid rows with participant ids `${prefix}${i}`; `override(i)` may replace a row's text. */
function csv(n: number, prefix: string, override: (i: number) => string | undefined = () => undefined): string {
  const lines = [FULL_HEADER];
  for (let i = 1; i <= n; i++) lines.push(override(i) ?? `${hashOf(i)},C${i},${prefix}${i},,2024-1-1/2024-1-31,true`);
  return `${lines.join('\n')}\n`;
}

async function activeState(pool: pg.Pool, state: string) {
  const { rows } = await pool.query('SELECT upload_id FROM bulkflow.active_uploads WHERE state = $1', [state]);
  return rows[0]?.upload_id as string | undefined;
}

describe('upload lifecycle', () => {
  const engine = useEngineDatabase();

  it('registers idempotently with a readable deterministic id', async () => {
    const identity = { state: 'tx', source: 'tx/p.csv', etag: '"0x8D"' };
    const first = await registerUpload(engine.pool, identity);
    const again = await registerUpload(engine.pool, { ...identity, state: 'TX' });
    expect(first.uploadId).toMatch(/^tx-[0-9a-f]{20}$/);
    expect(again).toEqual({ uploadId: first.uploadId, status: 'pending', created: false });
    expect(first.created).toBe(true);
  });

  it('bounds concurrent commits across uploads with database slots, released when a commit ends', async () => {
    const file = await csvSource(csv(20, 'S'));
    const holder = await engine.pool.connect();
    try {
      const { uploadId } = await registerUpload(engine.pool, { state: 'SL', source: 'sl.csv', etag: '1' });
      const planned = await planUpload(engine.pool, uploadId, file);
      if (!planned.ok) throw new Error('plan failed');
      // Another upload's commit holds the only slot in its transaction.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtext($1), 0)', [LOCK_CLASS.commitSlot]);
      const busy = commitChunk(engine.pool, { uploadId, chunkNo: 0 }, file, { commitSlots: 1 });
      await expect(busy).rejects.toBeInstanceOf(CommitSlotsBusyError);
      await expect(busy).rejects.toSatisfy(isTransient);
      const ledger = await engine.pool.query('SELECT count(*)::int AS n FROM bulkflow.chunk_ledger WHERE upload_id = $1', [uploadId]);
      expect(ledger.rows[0].n).toBe(0);
      await holder.query('COMMIT');
      const done = await commitChunk(engine.pool, { uploadId, chunkNo: 0 }, file, { commitSlots: 1 });
      expect(done).toMatchObject({ rowsCommitted: 20, alreadyCommitted: false });
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
      await file.remove();
    }
  });

  it('makes a re-commit of a chunk a no-op, also when two run at once', async () => {
    const file = await csvSource(csv(50, 'R', (i) => (i === 7 ? `${hashOf(7)},C7,R7,2024-02-30,,` : undefined)));
    try {
      const { uploadId } = await registerUpload(engine.pool, { state: 'RC', source: 'rc.csv', etag: '1' });
      const planned = await planUpload(engine.pool, uploadId, file, { targetChunkBytes: 2000 });
      if (!planned.ok) throw new Error('plan failed');
      expect(planned.plan.chunks.length).toBeGreaterThan(2);
      const [a, b] = await Promise.all([0, 0].map((chunkNo) => commitChunk(engine.pool, { uploadId, chunkNo }, file)));
      expect([a!.alreadyCommitted, b!.alreadyCommitted].sort()).toEqual([false, true]);
      expect(a!.rowsCommitted + a!.rowsRejected).toBe(planned.plan.chunks[0]!.rows);
      const again = await commitChunk(engine.pool, { uploadId, chunkNo: 0 }, file);
      expect(again).toEqual({ ...a!, alreadyCommitted: true });
      const table = await engine.pool.query(`SELECT count(*)::int AS n FROM bulkflow.participants_rc_${uploadId.slice(3)}`);
      expect(table.rows[0].n).toBe(a!.rowsCommitted);
      const errors = await engine.pool.query('SELECT count(*)::int AS n FROM bulkflow.row_errors WHERE upload_id = $1', [uploadId]);
      expect(errors.rows[0].n).toBe(1);
      // Re-planning returns the stored plan.
      expect(await planUpload(engine.pool, uploadId, file, { targetChunkBytes: 99 })).toEqual(planned);
      await expect(activateUpload(engine.pool, uploadId)).rejects.toBeInstanceOf(IncompleteUploadError);
    } finally {
      await file.remove();
    }
  });

  it('resolves duplicates deterministically whatever order chunks commit in', async () => {
    // Ids repeat within and across chunks: row i uses id D(i mod 37).
    const content = csv(300, 'X', (i) => `${hashOf(i)},C${i},D${i % 37},,,`);
    const outcome = async (order: (n: number[]) => number[], etag: string) => {
      const { uploadId, activation } = await ingest(engine.pool, content, { state: 'DU', source: 'du.csv', etag, targetChunkBytes: 1500, order });
      const kept = await engine.pool.query(`SELECT participant_id, line FROM bulkflow.participants_du_${uploadId.slice(3)} ORDER BY line`);
      const { errors } = await listRowErrors(engine.pool, uploadId, { limit: 1000 });
      return { activation: { ...activation, uploadId: '' }, kept: kept.rows, errors };
    };
    const reference = await outcome((n) => n, 'plan-order');
    expect(reference.kept).toHaveLength(37);
    expect(reference.kept.every((r: { participant_id: string; line: number }) => r.line <= 38)).toBe(true);
    expect(reference.errors).toHaveLength(263);
    expect(reference.errors[0]).toEqual({ line: 39, column: 'participant_id', code: 'duplicate_participant_id', message: 'participant_id repeats line 2' });
    expect(reference.activation.rowsRejected).toBe(263);
    await fc.assert(
      fc.asyncProperty(fc.nat(), async (seed) => {
        const shuffled = await outcome((n) => fc.sample(fc.shuffledSubarray(n, { minLength: n.length }), { seed, numRuns: 1 })[0]!, `s${seed}`);
        expect(shuffled.kept).toEqual(reference.kept);
        expect(shuffled.errors).toEqual(reference.errors);
      }),
      { numRuns: 3 },
    );
  });

  it('a failed upload (too many rejected rows, or a bad file) leaves the previous upload active', async () => {
    const good = await ingest(engine.pool, csv(40, 'G'), { state: 'FL', source: 'fl.csv', etag: 'good' });
    expect(good.activation?.status).toBe('complete');
    const bad = await ingest(engine.pool, csv(40, 'B', (i) => (i % 4 === 0 ? `x,C${i},B${i},,,` : undefined)), {
      state: 'FL', source: 'fl.csv', etag: 'bad', maxRejectedShare: 0.05,
    });
    expect(bad.activation).toMatchObject({ status: 'failed', activated: false, errorCode: 'too_many_rejected', rowsRejected: 10, rowsTotal: 40 });
    expect(bad.activation?.errorMessage).toContain('10 of 40 rows were rejected');
    const broken = await ingest(engine.pool, 'lds_hash,case_id\nx,y\n', { state: 'FL', source: 'fl.csv', etag: 'broken' });
    expect(broken.planned).toMatchObject({ ok: false, error: { code: 'missing_column', line: 1 } });
    expect(await activateUpload(engine.pool, broken.uploadId)).toMatchObject({ status: 'failed', errorCode: 'missing_column' });
    expect(await activeState(engine.pool, 'FL')).toBe(good.uploadId);
    const visible = await engine.pool.query(`SELECT count(*)::int AS n, min(participant_id) AS id FROM bulkflow.active_participants WHERE state = 'FL'`);
    expect(visible.rows[0]).toEqual({ n: 40, id: 'G1' });
    const events = await engine.pool.query(`SELECT id, type, subject, data FROM bulkflow.outbox WHERE subject LIKE 'states/FL/%' ORDER BY seq`);
    expect(events.rows.map((e) => e.type)).toEqual(['gov.bulkflow.upload.completed', 'gov.bulkflow.upload.failed', 'gov.bulkflow.upload.failed']);
    expect(events.rows[2]).toMatchObject({ id: `${broken.uploadId}.failed`, subject: `states/FL/uploads/${broken.uploadId}`, data: { errorCode: 'missing_column', status: 'failed' } });
  });

  it('supersedes the previous upload, never lets an older one win, and cleans up only what is no longer needed', async () => {
    const older = await registerUpload(engine.pool, { state: 'NY', source: 'ny.csv', etag: 'v1' });
    const first = await ingest(engine.pool, csv(10, 'F'), { state: 'NY', source: 'ny-first.csv', etag: 'v0' });
    const newer = await ingest(engine.pool, csv(12, 'N'), { state: 'NY', source: 'ny.csv', etag: 'v2' });
    expect(newer.activation?.status).toBe('complete');
    expect((await getUpload(engine.pool, { uploadId: first.uploadId }))?.status).toBe('superseded');
    // The older registration finishes last: it must not replace the newer data.
    const file = await csvSource(csv(11, 'O'));
    await planUpload(engine.pool, older.uploadId, file);
    await commitChunk(engine.pool, { uploadId: older.uploadId, chunkNo: 0 }, file);
    await file.remove();
    expect(await activateUpload(engine.pool, older.uploadId)).toMatchObject({ status: 'superseded', activated: false });
    expect(await activeState(engine.pool, 'NY')).toBe(newer.uploadId);

    expect(await cleanupUploads(engine.pool, { retentionMs: 3_600_000 })).toEqual({ cleaned: [], skipped: [] });
    const cleaned = await cleanupUploads(engine.pool, { retentionMs: 0 });
    expect(cleaned.cleaned).toEqual(expect.arrayContaining([first.uploadId, older.uploadId]));
    expect(cleaned.cleaned).not.toContain(newer.uploadId);
    const tables = await engine.pool.query(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'participants_ny_%'`);
    expect(tables.rows.map((r) => r.relname)).toEqual([`participants_ny_${newer.uploadId.slice(3)}`]);
    const visible = await engine.pool.query(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE state = 'NY'`);
    expect(visible.rows[0].n).toBe(12);
    expect((await listStateUploads(engine.pool, 'ny')).map((u) => [u.uploadId, u.status, u.active])).toEqual([
      [newer.uploadId, 'complete', true], [first.uploadId, 'superseded', false], [older.uploadId, 'superseded', false],
    ]);
    expect((await getUpload(engine.pool, { source: 'ny.csv' }))?.uploadId).toBe(newer.uploadId);
  });

  it('activates atomically: a concurrent reader sees the old rows or the new rows, never a mix or a part', async () => {
    const old = await ingest(engine.pool, csv(3000, 'OLD'), { state: 'AT', source: 'at.csv', etag: 'old', targetChunkBytes: 64 * 1024 });
    const file = await csvSource(csv(4000, 'NEW'));
    const { uploadId } = await registerUpload(engine.pool, { state: 'AT', source: 'at.csv', etag: 'new' });
    const planned = await planUpload(engine.pool, uploadId, file, { targetChunkBytes: 64 * 1024 });
    if (!planned.ok) throw new Error('plan failed');
    const reader = new pg.Client({ connectionString: engine.db.url });
    await reader.connect();
    const seen = new Set<string>();
    let done = false;
    const observe = async () => {
      const { rows } = await reader.query(
        `SELECT count(*)::int AS n, count(DISTINCT upload_id)::int AS uploads, min(participant_id) AS id
         FROM bulkflow.active_participants WHERE state = 'AT'`,
      );
      seen.add(`${rows[0].n}/${rows[0].uploads}/${rows[0].id}`);
    };
    await observe();
    const polling = (async () => {
      while (!done) await observe();
      await observe();
    })();
    try {
      for (const chunk of planned.plan.chunks) await commitChunk(engine.pool, { uploadId, chunkNo: chunk.chunkNo }, file);
      expect(seen).toEqual(new Set(['3000/1/OLD1']));
      await activateUpload(engine.pool, uploadId);
      done = true;
      await polling;
    } finally {
      done = true;
      await reader.end();
      await file.remove();
    }
    expect(old.activation?.status).toBe('complete');
    expect(seen).toEqual(new Set(['3000/1/OLD1', '4000/1/NEW1']));
  });

  it('lets two activations of one upload race safely: one outcome, one event', async () => {
    const file = await csvSource(csv(300, 'W'));
    try {
      const { uploadId } = await registerUpload(engine.pool, { state: 'WA', source: 'wa.csv', etag: 'race' });
      const planned = await planUpload(engine.pool, uploadId, file, { targetChunkBytes: 4096 });
      if (!planned.ok) throw new Error('plan failed');
      await Promise.all(planned.plan.chunks.map((c) => commitChunk(engine.pool, { uploadId, chunkNo: c.chunkNo }, file)));
      const [a, b] = await Promise.all([activateUpload(engine.pool, uploadId), activateUpload(engine.pool, uploadId)]);
      expect(a).toEqual(b);
      expect(a).toMatchObject({ status: 'complete', activated: true, rowsCommitted: 300 });
      const events = await engine.pool.query('SELECT count(*)::int AS n FROM bulkflow.outbox WHERE id = $1', [`${uploadId}.completed`]);
      expect(events.rows[0].n).toBe(1);
    } finally {
      await file.remove();
    }
  });

  it('leaves an active upload vacuumed, analyzed and indexed, its duplicates removed', async () => {
    const tableState = async (uploadId: string) => {
      const { name } = uploadTable(uploadId);
      const { rows: [stats] } = await engine.pool.query(
        `SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed,
                (SELECT count(*)::int FROM pg_stats WHERE schemaname = 'bulkflow' AND tablename = $1 AND attname = 'lds_key') AS key_stats,
                (SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'bulkflow' AND tablename = $1) AS indexes
         FROM pg_stat_user_tables WHERE schemaname = 'bulkflow' AND relname = $1`,
        [name],
      );
      return { ...stats, indexes: stats.indexes.map((index: string) => index.slice(name.length + 1)) };
    };
    const done = await ingest(engine.pool, csv(200, 'V', (i) => (i === 150 ? `${hashOf(i)},C${i},V3,,,` : undefined)), { state: 'VA', source: 'va.csv' });
    expect(done.activation).toMatchObject({ status: 'complete', rowsCommitted: 199, rowsRejected: 1 });
    expect(await tableState(done.uploadId)).toEqual({ vacuumed: true, analyzed: true, key_stats: 1, indexes: ['lds_key', 'participant_id'] });
    const { errors } = await listRowErrors(engine.pool, done.uploadId, { limit: 10 });
    expect(errors).toEqual([{ line: 151, column: 'participant_id', code: 'duplicate_participant_id', message: 'participant_id repeats line 4' }]);
    const kept = await engine.pool.query(`SELECT line FROM ${uploadTable(done.uploadId).qualified} WHERE participant_id = 'V3'`);
    expect(kept.rows).toEqual([{ line: 4 }]);
  });

  it('searches each half of the ids for duplicates apart, and keeps the totals exact when activation stops between them', async () => {
    // Later lines repeating ids from the whole id space, so both halves (split at the ids' median) hold duplicates.
    const repeats = new Map([[300, 10], [320, 250], [340, 99], [360, 399], [380, 10]]);
    const content = csv(400, 'H', (i) => (repeats.has(i) ? `${hashOf(i)},C${i},H${repeats.get(i)},,2024-1-1/2024-1-31,true` : undefined));
    const staged = await ingest(engine.pool, content, { state: 'HV', source: 'hv.csv', skipActivation: true });
    const { uploadId } = staged;
    const table = uploadTable(uploadId).qualified;
    const repeated = async () =>
      (await engine.pool.query(`SELECT participant_id AS id FROM ${table} GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`)).rows.map((r) => r.id);
    expect(await repeated()).toEqual(['H10', 'H250', 'H399', 'H99']);

    // The first half's search waits for its lock; the second half's commits meanwhile. Then the first is cancelled.
    const holder = await engine.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtext($1), $2)', [uploadId, UPLOAD_LOCK.duplicates]);
      const cut = activateUpload(engine.pool, uploadId);
      cut.catch(() => undefined);
      const waiting = async () => (await engine.pool.query(
        `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%' AND pid <> $1`,
        [(await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid],
      )).rows.map((r) => r.pid as number);
      for (let i = 0; i < 200 && ((await waiting()).length === 0 || (await repeated()).length === 4); i++) await new Promise((r) => setTimeout(r, 50));
      const [first] = await waiting();
      expect(first).toBeDefined();
      const left = await repeated();
      expect(left.length).toBeGreaterThan(0); // the first half's ids still repeat...
      expect(left.length).toBeLessThan(4); // ...the second half's are gone
      await engine.pool.query('SELECT pg_cancel_backend($1)', [first]);
      await expect(cut).rejects.toThrow();
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }
    expect((await getUpload(engine.pool, { uploadId }))!.status).not.toBe('complete');

    const done = await activateUpload(engine.pool, uploadId);
    expect(done).toMatchObject({ status: 'complete', rowsCommitted: 395, rowsRejected: 5 });
    expect(await repeated()).toEqual([]);
    const { errors } = await listRowErrors(engine.pool, uploadId, { limit: 10 });
    expect(errors.map((e) => [e.line, e.message])).toEqual([
      [301, 'participant_id repeats line 11'], [321, 'participant_id repeats line 251'], [341, 'participant_id repeats line 100'],
      [381, 'participant_id repeats line 11'], [400, 'participant_id repeats line 361'], // H399 comes first on line 361
    ]);
    const { rows: [upload] } = await engine.pool.query('SELECT rows_duplicate::int, error_counts FROM bulkflow.uploads WHERE upload_id = $1', [uploadId]);
    expect(upload).toEqual({ rows_duplicate: 5, error_counts: { duplicate_participant_id: 5 } });
  });

  it('caps stored error rows per upload at the lowest lines while counts stay exact', async () => {
    const content = csv(100, 'E', (i) => (i % 2 === 0 ? `${hashOf(i)},C${i},E${i},,,maybe` : undefined));
    const result = await ingest(engine.pool, content, { state: 'EC', source: 'ec.csv', targetChunkBytes: 1200, maxErrorRows: 7, order: (n) => [...n].reverse() });
    expect(result.activation).toMatchObject({ rowsRejected: 50, rowsCommitted: 50 });
    const { errors } = await listRowErrors(engine.pool, result.uploadId, { limit: 100 });
    expect(errors.length).toBeLessThanOrEqual(7);
    const page1 = await listRowErrors(engine.pool, result.uploadId, { limit: 3 });
    const page2 = await listRowErrors(engine.pool, result.uploadId, { limit: 3, after: page1.next! });
    expect([...page1.errors, ...page2.errors]).toEqual(errors.slice(0, 6));
    expect((await getUpload(engine.pool, { uploadId: result.uploadId }))?.errorCounts).toEqual({ invalid_boolean: 50 });
  });

  it('classifies a terminated connection as transient and a missing table as permanent', async () => {
    const victim = new pg.Client({ connectionString: engine.db.url });
    victim.on('error', () => {});
    await victim.connect();
    const pid = (await victim.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await engine.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const terminated = await victim.query('SELECT 1').catch((e: unknown) => e);
    await victim.end().catch(() => {});
    expect(isTransient(terminated)).toBe(true);
    const missing = await engine.pool.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
    expect(isTransient(missing)).toBe(false);
    expect(isTransient(new TransientError('x'))).toBe(true);
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('x'), { code: '40001' }))).toBe(true);
    // A chunk of an upload that was never planned is a permanent error.
    await expect(commitChunk(engine.pool, { uploadId: 'zz-00000000000000000000', chunkNo: 0 }, await csvSource('x'))).rejects.toMatchObject({ name: 'PermanentError' });
  });
});
