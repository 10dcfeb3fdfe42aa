import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import pg from 'pg';
import { activateUpload, commitChunk, fileByteSource, planUpload, registerUpload } from '../src/engine/index.js';
import { uploadTable, withTransaction } from '../src/engine/db.js';
import { runMatchAnalysis } from '../src/engine/matchAnalysis.js';
import { sharedRowsSql } from '../src/engine/matchRecords.js';
import { createBenchDatabase } from './database.js';
import { cpuSnapshot, load1 } from './stats.js';

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
  /** Rounds of (bare join, match run) on the same uploads; the records are removed between rounds. */
  runs: number;
}

/** One round: the bare join measured right before the match run, on the same uploads. */
export interface MatchRound {
  load: number;
  /** The bare join of the same hashes: the faster of the index merge (this round) and the active view join. */
  joinSeconds: number;
  /** The merge of the own lookup index with the others', as the match run finds its candidate keys. */
  indexJoinSeconds: number;
  /** The same join returning what a record holds of each side (participant and case id), as the match run reads them. */
  fieldsJoinSeconds: number;
  /** The match run: records opened for every pair, announcements written, run stored. */
  runSeconds: number;
  /** CPU seconds of this process and PostgreSQL during the index merge and the run. */
  joinCpu: number;
  runCpu: number;
}

export interface MatchPhase {
  records: number;
  rounds: MatchRound[];
  /** The same join written against the active view, planned by PostgreSQL (once, after the rounds: it takes minutes at 1M). */
  viewJoinSeconds: number;
  /** Generating and loading the 1 + otherStates uploads (not measured against anything). */
  setupSeconds: number;
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const lds = (text: string) => createHash('sha512').update(text).digest('hex');

/**
 * `npm run bench` match phase: a new upload of `rows` rows becomes active while `otherStates` states each have an
 * active upload of `rows` rows, and shares `sharedShare` of its rows with each of them (different rows per state).
 * Measures the match run for its completion event against a bare SQL join of the same rows in the same database, in
 * `runs` rounds of (join, run): the ratio is taken per round, the join measured right before the run.
 */
export async function measureMatches(options: MatchPhaseOptions): Promise<MatchPhase> {
  const { pool, drop } = await createBenchDatabase(options.serverUrl, 'bench_matches', options.concurrency + 2);
  try {
    const shared = Math.round(options.rows * options.sharedShare);
    const others = Array.from({ length: options.otherStates }, (_, k) => `${String.fromCharCode(80 + Math.floor(k / 26))}${String.fromCharCode(65 + (k % 26))}`);
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

    // The bare join of the same hashes, two ways, the faster counted: as the run finds them (the merge of the lookup
    // indexes, right before each run) and as written against the active view (the planner's choice).
    const timed = async (sql: string, settings?: string) => {
      const cpuBefore = cpuSnapshot().ours;
      const started = process.hrtime.bigint();
      const rows = await withTransaction(pool, async (client) => {
        if (settings) await client.query(settings);
        return Number((await client.query<{ n: string }>(sql, sql.includes('$1') ? [fresh, otherUploads] : [])).rows[0]!.n);
      });
      return { seconds: seconds(started), cpu: cpuSnapshot().ours - cpuBefore, rows };
    };
    const viewJoin = `SELECT count(*) AS n FROM bulkflow.active_participants n JOIN bulkflow.active_participants o ON o.lds_hash = n.lds_hash
                      WHERE n.upload_id = $1 AND o.upload_id = ANY($2::text[])`;
    // PostgreSQL's fastest form of the join: the new upload's lookup index merged with each other upload's, from the
    // indexes alone (equal keys are the shared hashes here: the counts below are checked against the rows planted).
    const pairKeys = (other: string) =>
      `SELECT DISTINCT n.lds_key FROM ${uploadTable(fresh).qualified} n JOIN ${uploadTable(other).qualified} o ON o.lds_key = n.lds_key`;
    const indexJoin = `SELECT count(*) AS n FROM (${otherUploads.map(pairKeys).join(' UNION ALL ')}) j`;
    // The same join returning each side's participant and case id: the record's content without its id and writes.
    const fieldsJoin = `SELECT count(*) AS n, sum(length(concat(own_participant, own_case, other_participant, other_case))) AS chars FROM (${otherUploads
      .map((other) => `(${sharedRowsSql(fresh, other, `(${pairKeys(other)})`)})`)
      .join(' UNION ALL ')}) j`;
    // Left alone, the planner probes every other upload's index once per row or hashes whole tables.
    const MERGE_JOIN = 'SET LOCAL enable_hashjoin = off; SET LOCAL enable_nestloop = off; SET LOCAL max_parallel_workers_per_gather = 0';
    const expected = shared * others.length;
    const rounds: Omit<MatchRound, 'joinSeconds'>[] = [];
    for (let round = 1; round <= options.runs; round++) {
      // Every round opens all the records again, from the same starting point.
      await pool.query(`TRUNCATE bulkflow.matches, bulkflow.match_runs, bulkflow.pair_evaluations CASCADE`); // and what references the records (their disposition events)
      await pool.query(`DELETE FROM bulkflow.outbox WHERE type = 'gov.bulkflow.matches.updated'`);
      await pool.query('CHECKPOINT');
      const load = load1();
      const fields = await timed(fieldsJoin, MERGE_JOIN);
      const join = await timed(indexJoin, MERGE_JOIN);
      const cpuBefore = cpuSnapshot().ours;
      const runStart = process.hrtime.bigint();
      const run = await runMatchAnalysis(pool, `${fresh}.completed`, fresh);
      const runSeconds = seconds(runStart);
      const runCpu = cpuSnapshot().ours - cpuBefore;
      const records = run.results.reduce((total, result) => total + result.new, 0);
      if (records !== expected || join.rows !== expected || fields.rows !== expected) {
        throw new Error(`expected ${expected} records: the run opened ${records}, the joins found ${join.rows} and ${fields.rows}`);
      }
      rounds.push({ load, indexJoinSeconds: join.seconds, fieldsJoinSeconds: fields.seconds, runSeconds, joinCpu: join.cpu, runCpu });
    }
    const view = await timed(viewJoin);
    if (view.rows !== expected) throw new Error(`expected ${expected} records: the view join found ${view.rows}`);
    return {
      records: expected,
      rounds: rounds.map((round) => ({ ...round, joinSeconds: Math.min(round.indexJoinSeconds, view.seconds) })),
      viewJoinSeconds: view.seconds,
      setupSeconds,
    };
  } finally {
    await drop();
  }
}

/** Writes a 3-column participants file, loads it through the engine (and activates it unless told not to). */
export async function load(pool: pg.Pool, options: Pick<MatchPhaseOptions, 'rows' | 'dir' | 'concurrency'>, state: string, hashOf: (i: number) => string, activate = true): Promise<string> {
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
