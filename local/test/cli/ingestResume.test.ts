import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../../bench/generate.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { runBulkflow } from '../lifecycle/processes.js';
import { scratchDir } from '../lifecycle/support.js';

/** Small parts, so a file of a few MB has dozens and Ctrl-C lands mid-upload. */
const PART = 64 * 1024;

let db: TestDatabase;
let scratch: string;

beforeAll(async () => {
  db = await createTestDatabase('cli_resume');
  scratch = await scratchDir('cli-resume-');
});
afterAll(async () => {
  await db?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it('bulkflow ingest sends a file above the part size in parts, and after Ctrl-C a second run resumes and sends only the rest', async () => {
  const file = join(scratch, 'ak-20k.csv');
  await generateParticipantsCsv(file, { rows: 20_000, badShare: 0, seed: 5 });
  const { size } = await stat(file);
  const env = { DATABASE_URL: db.url, UPLOAD_PART_BYTES: String(PART) };
  const args = ['ingest', file, '--state', 'AK', '--json', '--free-ports', '--data', join(scratch, 'data')];

  const first = runBulkflow(args, env);
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    // Ctrl-C once a few parts are held.
    for (;;) {
      const held = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.upload_session_parts').catch(() => ({ rows: [{ n: 0 }] }));
      if (held.rows[0]!.n >= 5) break;
      await new Promise((done) => setTimeout(done, 50));
    }
    process.kill(-first.pid, 'SIGINT');
    await first.exited;
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.upload_session_parts');
    expect(rows[0]!.n).toBeGreaterThanOrEqual(5);
  } finally {
    await pool.end();
  }

  const second = runBulkflow(args, env);
  const exit = await second.exited;
  expect(exit.code, second.output()).toBe(0);
  const summary = JSON.parse(second.output().split('\n').find((line) => line.startsWith('{'))!) as {
    status: string; rowsCommitted: number; uploadBytes: number; resumedBytes: number;
  };
  expect(summary).toMatchObject({ status: 'complete', rowsCommitted: 20_000 });
  expect(summary.resumedBytes).toBeGreaterThanOrEqual(5 * PART);
  // Only what the server lacked is sent again (a part cut by Ctrl-C was not held: it is part of "the rest").
  expect(summary.uploadBytes).toBe(size - summary.resumedBytes);
}, 240_000);
