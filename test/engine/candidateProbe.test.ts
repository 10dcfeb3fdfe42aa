import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeRange, ProbeWorker, SharedProbeMemory } from '../../src/engine/candidateProbe.js';
import { ensureKeyFilters, forEachKeyRange, keyFilters, keyFilterWindows, type KeyFilter, type KeyWords } from '../../src/engine/keyFilter.js';
import { candidateKeys } from '../../src/engine/matchCandidates.js';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { CSV_HEADER, hashOf } from '../support/uploads.js';

/** The compiled worker (npm run build:dev): the engine's TypeScript sources run without one. */
const WORKER = new URL('../../dist/src/engine/candidateProbe.worker.js', import.meta.url);

/** Key ranges as forEachKeyRange cuts them into 40 parts: keys on each boundary (both sides) and the extremes. */
const PARTS = 40;
const boundaryHashes = () => {
  const start = (j: number) => Math.floor((j * 2 ** 32) / PARTS);
  const keys = [-(2n ** 63n), 2n ** 63n - 1n];
  for (let j = 1; j < PARTS; j++) keys.push(BigInt(start(j) - 2 ** 31) << 32n, (BigInt(start(j) - 2 ** 31) << 32n) - 1n);
  return keys.map((key, i) => BigInt.asUintN(64, key).toString(16).padStart(16, '0') + hashOf(900_000 + i).slice(16));
};

describe('candidate probe on a worker thread beside the main thread', () => {
  const engine = useEngineDatabase();
  let own: string;
  let others: string[];
  let edges: string[];
  let etag = 0;
  const upload = async (state: string, hashes: string[]) =>
    (await ingest(engine.pool, `${CSV_HEADER}\n${hashes.map((hash, i) => `${hash},${state}${i},C${i}`).join('\n')}\n`, {
      state, source: `${state.toLowerCase()}/p.csv`, etag: String(++etag),
    })).uploadId;
  const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => hashOf(from + i));

  beforeAll(async () => {
    expect(existsSync(fileURLToPath(WORKER)), 'the compiled worker: run npm run build:dev first').toBe(true);
    edges = boundaryHashes();
    // PA: 3,000 keys and every boundary key. Each other upload shares a different part of them, some boundary keys.
    own = await upload('PA', [...numbered(0, 3000), ...edges]);
    others = [];
    for (let s = 0; s < 9; s++) {
      const shared = [...numbered(300 * s, 300 * s + 40 * (s + 1)), ...edges.filter((_, i) => i % 9 === s)];
      others.push(await upload(`P${'BCDEFGHIJ'[s]}`, [...shared, ...numbered(100_000 * (s + 1), 100_000 * (s + 1) + 2000)]));
    }
  });

  /** Every range of PA's keys with the other uploads' windows for it. */
  async function ranges(): Promise<Array<[KeyWords, KeyFilter[]]>> {
    const blocks = await ensureKeyFilters(engine.pool, others);
    const all: Array<[KeyWords, KeyFilter[]]> = [];
    await forEachKeyRange(engine.pool, own, PARTS, (keys, windows: KeyFilter[]) => all.push([keys.slice(), windows]), (range) => keyFilterWindows(engine.pool, others, blocks, range));
    return all;
  }
  const onMain = (keys: KeyWords, windows: KeyFilter[]) => windows.map((window) => window.mayHoldOf(keys));
  const plain = (found: Array<ArrayLike<number>>) => found.map((positions) => Array.from(positions));

  it('answers on the worker what the main thread answers, range by range (keys on every boundary), and in a run', async () => {
    const all = await ranges();
    expect(all.length).toBeGreaterThan(30);
    const worker = new ProbeWorker(WORKER);
    const memory = new SharedProbeMemory();
    try {
      let found = 0;
      for (const [keys, windows] of all) {
        const expected = onMain(keys, windows);
        found += expected.flat().length;
        // The worker alone (nothing else takes windows from the job's counter): it answers for every window.
        const answer = await worker.probe(memory.job(keys, windows));
        expect(answer.map(([w]) => w).sort((x, y) => x - y)).toEqual(windows.map((_, w) => w));
        const byWorker: number[][] = [];
        for (const [w, positions] of answer) byWorker[w] = Array.from(positions);
        expect(byWorker).toEqual(expected);
        // Both threads taking windows from one counter.
        expect(plain(await probeRange(keys, windows, { worker, memory, onFailure: (error) => expect.fail(String(error)) }))).toEqual(expected);
      }
      // Every shared key was found (beyond them only false positives of 0.018 %).
      const shared = Array.from({ length: 9 }, (_, s) => 40 * (s + 1)).reduce((x, y) => x + y, 0) + edges.length;
      expect(found).toBeGreaterThanOrEqual(shared);
      expect(found).toBeLessThan(shared + 10);

      // candidateKeys: the same keys per other upload, in the same order, with the worker as without one.
      const without = await candidateKeys(engine.pool, own, others, { worker: null });
      const withWorker = await candidateKeys(engine.pool, own, others, { worker });
      expect([...withWorker]).toEqual([...without]);
      expect([...without.values()].flat().length).toBe(found);
    } finally {
      await worker.close();
    }
  });

  it('probes on the main thread what a worker that dies or never starts did not answer', async () => {
    // All of PA's keys against the other uploads' whole filters, 200 times over: ~100 ms of probing on the main
    // thread, so the worker takes windows before the main thread has taken them all.
    const keys = (await ranges()).reduce((all, [part]) => Uint32Array.of(...all, ...part), new Uint32Array(0));
    const filters = [...(await keyFilters(engine.pool, engine.pool, others)).values()].map((filter) => filter!);
    const windows = Array.from({ length: 200 }, () => filters).flat();
    const expected = onMain(keys, windows);
    const memory = new SharedProbeMemory();
    const dir = await mkdtemp(join(tmpdir(), 'bulkflow-probe-'));
    try {
      // Takes every window left of its first job, notes whether there were any, and exits.
      const dying = join(dir, 'dying.mjs');
      const marker = join(dir, 'claimed');
      await writeFile(dying, `
        import { writeFileSync } from 'node:fs';
        import { parentPort } from 'node:worker_threads';
        parentPort.on('message', (job) => {
          writeFileSync(${JSON.stringify(marker)}, String(job.windows.length - Atomics.add(new Int32Array(job.claims), 0, 1e6)));
          process.exit(7);
        });`);
      const failures: unknown[] = [];
      const onFailure = (error: unknown) => failures.push(error);
      expect(plain(await probeRange(keys, windows, { worker: new ProbeWorker(pathToFileURL(dying)), memory, onFailure }))).toEqual(expected);
      // It took windows the main thread then probed again.
      expect(Number(await readFile(marker, 'utf8'))).toBeGreaterThan(0);
      expect(failures.map(String)).toEqual(['Error: candidate probe worker exited with code 7']);

      // A worker file that is not there: the worker never starts, the main thread probes every window.
      const missing = new ProbeWorker(pathToFileURL(join(dir, 'missing.js')));
      failures.length = 0;
      expect(plain(await probeRange(keys, windows, { worker: missing, memory, onFailure }))).toEqual(expected);
      await waitUntil(() => failures.length > 0);
      expect((failures[0] as { code?: string }).code).toMatch(/MODULE_NOT_FOUND/);
      // And a run given such a worker: the same candidates as without a worker.
      expect([...(await candidateKeys(engine.pool, own, others, { worker: missing }))]).toEqual([...(await candidateKeys(engine.pool, own, others, { worker: null }))]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ends with the process: a process that probed with the worker exits by itself', async () => {
    const dist = (path: string) => JSON.stringify(new URL(`../../dist/${path}`, import.meta.url).href);
    const script = `
      import pg from 'pg';
      import { ProbeWorker } from ${dist('src/engine/candidateProbe.js')};
      import { candidateKeys } from ${dist('src/engine/matchCandidates.js')};
      const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
      const found = await candidateKeys(pool, process.env.OWN, JSON.parse(process.env.OTHERS), { worker: new ProbeWorker(new URL(${JSON.stringify(WORKER.href)})) });
      await pool.end();
      console.log([...found.values()].flat().length);`;
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, DATABASE_URL: engine.db.url, OWN: own, OTHERS: JSON.stringify(others) },
      timeout: 30_000,
    });
    expect(Number(stdout.trim())).toBe([...(await candidateKeys(engine.pool, own, others, { worker: null })).values()].flat().length);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

async function waitUntil(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > 10_000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
