import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/embeddedPostgres.js';
import { procStat } from '../../src/lifecycle/processGroup.js';

const scratch = await mkdtemp(join(tmpdir(), 'bulkflow-pgrestart-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

/**
 * A process that is killed and stays a zombie for `ms`: its parent does not reap it until the parent is killed
 * too, then init does. Owned by the user PostgreSQL runs as (as root: `postgres`; PostgreSQL ignores a lock held
 * by another user's process).
 */
async function zombieFor(ms: number): Promise<number> {
  const user = process.getuid?.() === 0
    ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) }
    : {};
  const parent = spawn('sh', ['-c', 'sleep 600 & echo $!; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'], ...user });
  const pid = await new Promise<number>((done) => parent.stdout.once('data', (chunk: Buffer) => done(Number(chunk.toString().trim()))));
  process.kill(pid, 'SIGKILL');
  while (procStat(pid)?.state !== 'Z') await new Promise((done) => setTimeout(done, 10));
  setTimeout(() => parent.kill('SIGKILL'), ms);
  return pid;
}

describe('embedded PostgreSQL restarted right after it was killed', () => {
  it('waits while the killed postmaster of postmaster.pid is a zombie, then starts (it died with "lock file already exists")', { timeout: 180_000 }, async () => {
    const first = await startEmbeddedPostgres({ dataDir: join(scratch, 'postgres'), persistent: true });
    await first.stop();
    // As root the data may have gone where the postgres user can reach it.
    const dataDir = first.dataDir!;
    // As after a SIGKILL: the lock file names the old postmaster, which is ended but not yet reaped.
    const zombie = await zombieFor(2_000);
    await writeFile(join(dataDir, 'postmaster.pid'), `${zombie}\n${dataDir}\n`);
    const restarted = await startEmbeddedPostgres({ dataDir: join(scratch, 'postgres'), persistent: false });
    try {
      expect(procStat(zombie)).toBeUndefined();
      const client = new pg.Client(restarted.url);
      await client.connect();
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
      await client.end();
    } finally {
      await restarted.stop();
    }
  });
});
