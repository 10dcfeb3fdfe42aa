import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import pg from 'pg';
import { activateUpload, commitChunk, fileByteSource, planUpload, registerUpload } from '../src/engine/index.js';
import { withTransaction, uploadTable } from '../src/engine/db.js';
import { runMatchAnalysis } from '../src/engine/matchAnalysis.js';
import { MERGE_JOIN_SETTINGS } from '../src/engine/matchRecords.js';
import { createBenchDatabase } from './database.js';

export interface MatchPhaseOptions {
  /** The PostgreSQL server; the phase works in a database of its own and drops it afterwards. */
  serverUrl: string;
  /** Rows of the new upload and of each other state's active upload. */
  rows: number;
  otherStates: number;
  /** Share of the new upload's rows shared with each other state. */
  sharedShare: number;
  /** Where the generated files are written (one at a time, removed after loading). */
  dir: string;
  concurrency: number;
}

export interface MatchPhase {
  records: number;
  /** The match run: records opened for every pair, announcements written, run stored. */
  runSeconds: number;
  /** The bare join of the same hashes: the faster of the two below. */
  joinSeconds: number;
  /** Written against the active view, planned by PostgreSQL. */
  viewJoinSeconds: number;
  /** A merge join of the two lookup indexes per pair, as the match run finds hashes (the better of before and after the run). */
  indexJoinSeconds: number;
  /** Generating and loading the 1 + otherStates uploads (not measured against anything). */
  setupSeconds: number;
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const lds = (text: string) => createHash('sha512').update(text).digest('hex');

/**
 * `npm run bench` match phase: a new upload of `rows` rows becomes active while `otherStates` states each have an
 * active upload of `rows` rows, and shares `sharedShare` of its rows with each of them (different rows per state).
 * Measures the match run for its completion event against a bare SQL join of the same rows in the same database.
 */
export async function measureMatches(options: MatchPhaseOptions): Promise<MatchPhase> {
  const { pool, drop } = await createBenchDatabase(options.serverUrl, 'bench_matches', options.concurrency + 2);
  try {
    const shared = Math.round(options.rows * options.sharedShare);
    const others = Array.from({ length: options.otherStates }, (_, k) => `O${String.fromCharCode(65 + k)}`);
    const setupStart = process.hrtime.bigint();
    const otherUploads: string[] = [];
    for (const [k, state] of others.entries()) {
      // The other state's first `shared` rows carry the hashes the new upload shares with it.
      otherUploads.push(await load(pool, options, state, (i) => (i < shared ? lds(`shared:${k}:${i}`) : lds(`${state}:${i}`))));
    }
    // The new upload: rows k*shared .. (k+1)*shared - 1 are the ones shared with other state k.
    const fresh = await load(pool, options, 'NW', (i) => (i < shared * others.length ? lds(`shared:${Math.floor(i / shared)}:${i % shared}`) : lds(`NW:${i}`)), false);
    const activation = await activateUpload(pool, fresh);
    if (!activation.activated) throw new Error(`new upload ended ${activation.status}`);
    const setupSeconds = seconds(setupStart);

    // The bare join of the same hashes, two ways, the faster counted: as written against the active view (the planner's
    // choice), and as the run finds them (a merge join of the two lookup indexes per pair).
    const timed = async (sql: string, settings?: string) => {
      const started = process.hrtime.bigint();
      const rows = await withTransaction(pool, async (client) => {
        if (settings) await client.query(settings);
        return Number((await client.query<{ n: string }>(sql, sql.includes('$1') ? [fresh, otherUploads] : [])).rows[0]!.n);
      });
      return { seconds: seconds(started), rows };
    };
    const own = uploadTable(fresh).qualified;
    const viewJoin = `SELECT count(*) AS n FROM bulkflow.active_participants n JOIN bulkflow.active_participants o ON o.lds_hash = n.lds_hash
                      WHERE n.upload_id = $1 AND o.upload_id = ANY($2::text[])`;
    const indexJoin = `SELECT count(*) AS n FROM (${otherUploads
      .map((other) => `SELECT o.lds_hash FROM ${own} n JOIN ${uploadTable(other).qualified} o ON o.lds_hash = n.lds_hash`)
      .join(' UNION ALL ')}) j`;
    // The index merge before and after the run (the better counted); the view join once, after (it takes minutes at 1M).
    const before = await timed(indexJoin, MERGE_JOIN_SETTINGS);
    const runStart = process.hrtime.bigint();
    const run = await runMatchAnalysis(pool, `${fresh}.completed`, fresh);
    const runSeconds = seconds(runStart);
    const after = await timed(indexJoin, MERGE_JOIN_SETTINGS);
    const view = await timed(viewJoin);
    const records = run.results.reduce((total, result) => total + result.new, 0);
    const found = [before, after, view].map((join) => join.rows);
    if (records !== shared * others.length || found.some((rows) => rows !== records)) {
      throw new Error(`expected ${shared * others.length} records: the run opened ${records}, the joins found ${found.join(', ')}`);
    }
    const indexJoinSeconds = Math.min(before.seconds, after.seconds);
    return { records, runSeconds, viewJoinSeconds: view.seconds, indexJoinSeconds, joinSeconds: Math.min(indexJoinSeconds, view.seconds), setupSeconds };
  } finally {
    await drop();
  }
}

/** Writes a 3-column participants file, loads it through the engine (and activates it unless told not to). */
async function load(pool: pg.Pool, options: MatchPhaseOptions, state: string, hashOf: (i: number) => string, activate = true): Promise<string> {
  const path = join(options.dir, `matches-${state}-${options.rows}.csv`);
  const out = createWriteStream(path);
  out.write('lds_hash,participant_id,case_id\n');
  for (let i = 0; i < options.rows; i++) {
    if (!out.write(`${hashOf(i)},${state}-${i},C${i}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  try {
    const source = fileByteSource(path);
    const { uploadId } = await registerUpload(pool, { state, source: `${state.toLowerCase()}/bench.csv`, etag: randomBytes(8).toString('hex') });
    const planned = await planUpload(pool, uploadId, source);
    if (!planned.ok) throw new Error(`plan failed: ${planned.error.message}`);
    const queue = planned.plan.chunks.map((chunk) => chunk.chunkNo);
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        for (let chunkNo = queue.shift(); chunkNo !== undefined; chunkNo = queue.shift()) await commitChunk(pool, { uploadId, chunkNo }, source);
      }),
    );
    if (activate && !(await activateUpload(pool, uploadId)).activated) throw new Error(`upload of ${state} did not activate`);
    return uploadId;
  } finally {
    await rm(path, { force: true });
  }
}
