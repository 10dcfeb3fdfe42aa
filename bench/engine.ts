import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { activateUpload, cleanupUploads, commitChunk, fileByteSource, planUpload, registerUpload } from '../src/engine/index.js';
import { resolvePostgres } from '../local/src/embeddedPostgres.js';
import { APP_ROLE } from '../local/src/appDatabase.js';
import { BAD_KINDS, generateParticipantsCsv } from './generate.js';
import { BENCH_STATE, e2eDataDir, EndToEndStack, type EndToEndRun, type StarterLatency } from './e2e.js';
import { PGLOADER_INSTALL_HINT, pgloaderVersion, runPgloader } from './pgloader.js';
import { cpuSnapshot, fixed2, formatSpread, load1, mib, ms, othersCores, partsDelta, percent, rate, secs, spread } from './stats.js';
import { measureMatches, type MatchRound } from './matches.js';
import { formatQueryPhase, measureQueries, type QueryPhaseOptions } from './matchQueries.js';
import { SameWorkFloor } from './floor.js';
import { createBenchDatabase } from './database.js';

/**
 * `npm run bench -- --rows N [--runs R] [--concurrency C] [--chunk-mb M] [--bad SHARE] [--in-flight F] [--part-mib P] [--engine-only] [--compare]
 * [--match-rows N [--match-runs M] [--match-states S] | --no-matches] [--query-rows N [--query-states S] | --no-queries]`:
 * R rounds, each a raw COPY of the same file into an unindexed all-text table (the baseline), the same-work floor
 * (bench/floor.ts: the same rows without the planted errors, binary COPY in as many streams as the engine's
 * concurrency, the engine's index builds and VACUUM ANALYZE), then the engine, then
 * the end-to-end path through the local stack (skip with --engine-only), on the same server. Ratios are taken per
 * round, against the baseline measured right before, and the summary gives min / median / max over the rounds.
 * Then match analysis (S other states, default 10) against a bare join of the same hashes (bench/matches.ts), in M rounds (default 3) on the same
 * uploads, each ratio against the join measured right before. Then real-time match queries (bench/matchQueries.ts):
 * 200 queries of 50 hashes against N active rows over S states (default 10M over 50), each beside the bare index lookup
 * of the same hashes in every active upload. --in-flight sets the app's chunks in flight per
 * upload for the end-to-end runs, --part-mib their UPLOAD_PART_BYTES (a file above it goes up in parts). --compare adds pgloader (once) loading the same file into the same kind of table,
 * when it is installed.
 */
function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
}

const rows = option('rows', 1_000_000);
const runs = Math.max(1, Math.floor(option('runs', 1)));
const concurrency = option('concurrency', 2);
const chunkBytes = option('chunk-mb', 8) * 1024 * 1024;
const badShare = option('bad', 0.001);
const skipE2e = process.argv.includes('--engine-only');
// The product's chunks in flight per upload (INGEST_MAX_CHUNKS_IN_FLIGHT) for the end-to-end runs; default: the app's.
const inFlight = process.argv.includes('--in-flight') ? option('in-flight', 0) : undefined;
// UPLOAD_PART_BYTES in MiB for the end-to-end runs (default: the app's 64), so a small file also goes up in parts.
const partMiB = process.argv.includes('--part-mib') ? option('part-mib', 64) : undefined;
const compare = process.argv.includes('--compare');
// Match phase: a new upload against S (default 10) other states' active uploads of as many rows, 1 % shared with each.
const matchRows = process.argv.includes('--no-matches') ? 0 : option('match-rows', rows);
const matchRuns = Math.max(1, Math.floor(option('match-runs', 3)));
const matchStates = Math.max(1, Math.min(52, Math.floor(option('match-states', 10))));
// Query phase: the issue's national scale check (p95 < 250 ms for 50 hashes, 10M active rows over 50 states).
const queryRows = process.argv.includes('--no-queries') ? 0 : option('query-rows', 10_000_000);
const queryStates = Math.max(2, Math.min(52, Math.floor(option('query-states', 50))));
const queryOptions = (serverUrl: string): QueryPhaseOptions => ({
  serverUrl, rows: queryRows, states: queryStates, queries: 200, persons: 50, hitsPerQuery: 10, dir: join(dataDir, 'bench'), concurrency,
});
const BASELINE_COLUMNS = ['lds_hash', 'case_id', 'participant_id', 'participant_closing_date', 'recent_benefit_issuance_dates', 'vulnerable_individual'];

interface EngineRun {
  seconds: number;
  /** Planning, with chunk 0 committing alongside (as the orchestrator runs them). */
  plan: number;
  commit: number;
  activate: number;
  /** Engine start -> the first chunk committed. */
  firstRow: number;
  /** CPU seconds of this process and PostgreSQL per step: unlike wall time, barely moved by other work on the machine. */
  cpu: { plan: number; commit: number; activate: number };
  /** The whole engine run's CPU seconds by process: this one (Node: scan, validation, encoding) and PostgreSQL. */
  cpuBy: { node: number; postgres: number };
  chunks: number;
  rowsCommitted: number;
  rowsRejected: number;
}

interface Round {
  load: number;
  baselineCpu: number;
  /** CPU cores' worth used by other processes on the machine during the round (it has os.cpus().length). */
  others: number;
  baseline: number;
  /** The same-work floor (bench/floor.ts). */
  floor: number;
  /** Its CPU seconds, PostgreSQL's (the rows were encoded beforehand). */
  floorCpu: number;
  engine: EngineRun;
  e2e?: EndToEndRun;
}

const dataDir = join(process.cwd(), '.data');
await mkdir(join(dataDir, 'bench'), { recursive: true });
// Field-count errors would stop the baseline's plain COPY, so the bench plants every other kind.
const kinds = BAD_KINDS.filter((kind) => kind !== 'field_count');
const file = join(dataDir, 'bench', `participants-${rows}-${badShare}.csv`);
const elapsed = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const generateStart = process.hrtime.bigint();
if (!existsSync(file)) await generateParticipantsCsv(file, { rows, badShare, badKinds: kinds, seed: 1 });
const generateSeconds = elapsed(generateStart);
const sizeBytes = (await stat(file)).size;
// The floor's rows: the same generator and seed without planted errors (the floor holds what the engine keeps).
const cleanFile = join(dataDir, 'bench', `participants-${rows}-0.csv`);
if (!existsSync(cleanFile)) await generateParticipantsCsv(cleanFile, { rows, badShare: 0, seed: 1 });
const floor = await SameWorkFloor.prepare(cleanFile, concurrency);

const postgres = await resolvePostgres({ dataDir: join(dataDir, `bench-postgres-${process.pid}`), persistent: false });
const database = await createBenchDatabase(postgres.url, 'bench', concurrency + 2);
const { pool } = database;
const url = new URL(database.url);
// The engine acts as the app does (the least-privilege app role), so the tables it makes are the app's: the end-to-end
// rounds' match analysis, run by the host as that role, reads the engine rounds' active upload.
const appUrl = new URL(url);
appUrl.searchParams.set('options', `-c role=${APP_ROLE}`);
const appPool = new pg.Pool({ connectionString: appUrl.toString(), max: concurrency + 2 });
appPool.on('error', () => {});
let stack: EndToEndStack | undefined;
try {

  // Both raw loaders write into the same unindexed all-text table, dropped and checkpointed after each run.
  const createBaseline = () => pool.query(`CREATE TABLE baseline (${BASELINE_COLUMNS.map((c) => `${c} text`).join(', ')})`);
  const dropBaseline = async () => {
    const { rows: [count] } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM baseline');
    await pool.query('DROP TABLE baseline');
    await pool.query('CHECKPOINT');
    return Number(count!.n);
  };
  const measureBaseline = async () => {
    await createBaseline();
    const cpuBefore = cpuSnapshot();
    const started = process.hrtime.bigint();
    const client = await pool.connect();
    try {
      await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), client.query(copyFrom('COPY baseline FROM STDIN (FORMAT csv, HEADER true)')));
    } finally {
      client.release();
    }
    const seconds = elapsed(started);
    const cpu = cpuSnapshot().ours - cpuBefore.ours;
    await dropBaseline();
    return { seconds, cpu };
  };
  // Superseded uploads' tables are dropped between rounds, so every round starts from the same database.
  const settle = async () => {
    await cleanupUploads(pool, { retentionMs: 0 });
    await pool.query('CHECKPOINT');
  };
  const measureEngine = async (): Promise<EngineRun> => {
    const source = fileByteSource(file);
    const cpuAt = [cpuSnapshot()];
    const started = process.hrtime.bigint();
    // The end-to-end rounds' state: each round's upload supersedes the last, so no round's match run meets the same
    // file's million hashes in another state (that run is the match phase's to measure).
    const { uploadId } = await registerUpload(appPool, { state: BENCH_STATE, source: `${BENCH_STATE.toLowerCase()}/participants.csv`, etag: randomBytes(8).toString('hex') });
    let firstRow: number | undefined;
    // As the orchestrator does: chunk 0 commits while the plan scans the rest of the file.
    const [planned] = await Promise.all([
      planUpload(appPool, uploadId, source, { targetChunkBytes: chunkBytes }),
      commitChunk(appPool, { uploadId, chunkNo: 0 }, source).then(() => (firstRow = elapsed(started))),
    ]);
    if (!planned.ok) throw new Error(`plan failed: ${planned.error.message}`);
    const plan = elapsed(started);
    cpuAt.push(cpuSnapshot());
    const commitStart = process.hrtime.bigint();
    const chunks = planned.plan.chunks;
    let next = 1;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < chunks.length) {
          const chunk = chunks[next++]!;
          await commitChunk(appPool, { uploadId, chunkNo: chunk.chunkNo }, source);
        }
      }),
    );
    const commit = elapsed(commitStart);
    cpuAt.push(cpuSnapshot());
    const activateStart = process.hrtime.bigint();
    const result = await activateUpload(appPool, uploadId, { maxRejectedShare: 0.05 });
    const activate = elapsed(activateStart);
    const seconds = elapsed(started);
    cpuAt.push(cpuSnapshot());
    const [plan0, commit0, activate0, end] = cpuAt.map((c) => c.ours) as [number, number, number, number];
    if (result.status !== 'complete') throw new Error(`upload ended ${result.status}: ${result.errorMessage}`);
    const cpu = { plan: commit0 - plan0, commit: activate0 - commit0, activate: end - activate0 };
    const by = partsDelta(cpuAt[0]!, cpuAt[3]!);
    return { seconds, plan, commit, activate, firstRow: firstRow!, cpu, cpuBy: { node: by.bench, postgres: by.postgres }, chunks: chunks.length, rowsCommitted: result.rowsCommitted, rowsRejected: result.rowsRejected };
  };

  const pgloader = compare ? pgloaderVersion() : undefined;
  let pgloaderRun: { seconds: number; rows: number } | undefined;
  if (compare && !pgloader) console.log(`pgloader: not installed, skipped; ${PGLOADER_INSTALL_HINT}`);
  if (pgloader) {
    await createBaseline();
    const run = await runPgloader({ file, databaseUrl: url.toString(), table: 'baseline', columns: BASELINE_COLUMNS });
    pgloaderRun = { seconds: run.seconds, rows: await dropBaseline() };
    if (pgloaderRun.rows !== rows) console.log(`pgloader loaded ${pgloaderRun.rows} of ${rows} rows (${run.report})`);
  }

  // The product path on the same file and server: blob upload -> durable fan-out -> active -> event consumed.
  if (!skipE2e) {
    stack = await EndToEndStack.start({
      databaseUrl: url.toString(), dataDir: e2eDataDir(process.cwd()),
      settings: {
        ...(inFlight ? { INGEST_MAX_CHUNKS_IN_FLIGHT: String(inFlight) } : {}),
        ...(partMiB ? { UPLOAD_PART_BYTES: String(partMiB * 2 ** 20) } : {}),
      },
    });
  }
  console.log(`${rows} rows, ${(sizeBytes / 1e6).toFixed(0)} MB (generated in ${generateSeconds.toFixed(1)} s); ${runs} round(s) of baseline, engine${stack ? `, end to end (chunks in flight: ${inFlight ?? 'app default'})` : ''}`);
  const rounds: Round[] = [];
  for (let run = 1; run <= runs; run++) {
    const load = load1();
    const cpuBefore = cpuSnapshot();
    const { seconds: baseline, cpu: baselineCpu } = await measureBaseline();
    const floorCpuBefore = cpuSnapshot();
    const floorSeconds = await floor.measure(pool);
    const floorCpu = partsDelta(floorCpuBefore, cpuSnapshot()).postgres;
    const engine = await measureEngine();
    await settle();
    const e2e = stack ? await stack.measure(file, run) : undefined;
    if (e2e) await settle();
    const others = othersCores(cpuBefore, cpuSnapshot());
    rounds.push({ load, baselineCpu, others, baseline, floor: floorSeconds, floorCpu, engine, ...(e2e ? { e2e } : {}) });
    console.log(
      `round ${run}/${runs} (load ${load.toFixed(1)}, others ${others.toFixed(2)} cores): baseline ${secs(baseline)} (CPU ${baselineCpu.toFixed(2)} s); floor ${secs(floorSeconds)}; ` +
        `engine ${secs(engine.seconds)} ratio ${fixed2(baseline / engine.seconds)} floor ratio ${fixed2(floorSeconds / engine.seconds)} ` +
        `(plan ${secs(engine.plan)}, commit ${secs(engine.commit)}, activate ${secs(engine.activate)}, first row ${secs(engine.firstRow)}; ` +
        `CPU ${engine.cpu.plan.toFixed(2)}/${engine.cpu.commit.toFixed(2)}/${engine.cpu.activate.toFixed(2)} s, Node ${engine.cpuBy.node.toFixed(2)} s, ` +
        `PostgreSQL ${engine.cpuBy.postgres.toFixed(2)} s; floor's PostgreSQL ${floorCpu.toFixed(2)} s)` +
        (e2e
          ? `; end to end ${secs(e2e.seconds)} ratio ${fixed2(baseline / e2e.seconds)} (upload ${secs(e2e.uploadSeconds)}, ingest ${secs(e2e.ingestSeconds)}, ` +
            `CPU ${e2e.ingestCpu.toFixed(2)} s, event ${secs(e2e.eventSeconds)}, first row ${secs(e2e.firstRowSeconds)}, ${e2e.status}, host peak ${e2e.hostPeakMiB ?? '?'} MiB)`
          : ''),
    );
  }
  const starter: StarterLatency[] = [];
  if (stack) for (let round = 1; round <= runs; round++) starter.push(await stack.starterLatency(round));
  const matches = matchRows
    ? await measureMatches({ serverUrl: postgres.url, rows: matchRows, otherStates: matchStates, sharedShare: 0.01, dir: join(dataDir, 'bench'), concurrency, runs: matchRuns })
    : undefined;
  const queries = queryRows ? await measureQueries(queryOptions(postgres.url)) : undefined;

  const last = rounds[rounds.length - 1]!;
  const of = (pick: (round: Round) => number) => spread(rounds.map(pick));
  const e2eOf = (pick: (e2e: EndToEndRun) => number) => spread(rounds.map((r) => pick(r.e2e!)));
  const ratio = of((r) => r.baseline / r.engine.seconds);
  const floorRatio = of((r) => r.floor / r.engine.seconds);
  const baselineRate = of((r) => rows / r.baseline);
  const engineRate = of((r) => rows / r.engine.seconds);
  const table: [string, string][] = [
    ['chunks', `${last.engine.chunks} x ~${(chunkBytes / 1048576).toFixed(0)} MiB, engine concurrency ${concurrency}`],
    ['committed/rejected', `${last.engine.rowsCommitted} / ${last.engine.rowsRejected}`],
    ['load average (1 min)', formatSpread(of((r) => r.load), fixed2)],
    ['other processes', `${formatSpread(of((r) => r.others), fixed2)} of ${cpus().length} cores busy with other work during the rounds`],
    ['baseline COPY', `${formatSpread(of((r) => r.baseline), secs)}  (${formatSpread(baselineRate, rate)} rows/s; CPU ${formatSpread(of((r) => r.baselineCpu), secs)})`],
    ['same-work floor', `${formatSpread(of((r) => r.floor), secs)}  (${floor.rows} rows without the planted errors: binary COPY in ${concurrency} streams, VACUUM ANALYZE, the engine's index builds)`],
    ['engine total', `${formatSpread(of((r) => r.engine.seconds), secs)}  (${formatSpread(engineRate, rate)} rows/s)`],
    ['  plan (and chunk 0)', formatSpread(of((r) => r.engine.plan), secs)],
    ['  commit', formatSpread(of((r) => r.engine.commit), secs)],
    ['  activate', formatSpread(of((r) => r.engine.activate), secs)],
    ['  first committed row', formatSpread(of((r) => r.engine.firstRow), secs)],
    ['  CPU plan/commit/activate', `${formatSpread(of((r) => r.engine.cpu.plan), secs)}; ${formatSpread(of((r) => r.engine.cpu.commit), secs)}; ${formatSpread(of((r) => r.engine.cpu.activate), secs)} (this process and PostgreSQL)`],
    ['  CPU by process', `Node ${formatSpread(of((r) => r.engine.cpuBy.node), secs)}; PostgreSQL ${formatSpread(of((r) => r.engine.cpuBy.postgres), secs)}; the floor's PostgreSQL ${formatSpread(of((r) => r.floorCpu), secs)}`],
    // On C cores the engine needs at least its CPU / C: the floor ratio it could reach with its CPU as it is.
    ['floor ratio ceiling', `${formatSpread(of((r) => r.floor / ((r.engine.cpuBy.node + r.engine.cpuBy.postgres) / cpus().length)), fixed2)}  (floor / (engine CPU / ${cpus().length} cores))`],
    ['engine ratio', `${formatSpread(ratio, fixed2)}  pairwise: ${rounds.map((r) => fixed2(r.baseline / r.engine.seconds)).join(', ')}`],
    ['engine vs floor', `${formatSpread(floorRatio, fixed2)}  pairwise: ${rounds.map((r) => fixed2(r.floor / r.engine.seconds)).join(', ')}`],
  ];
  let e2eSummary = '';
  if (stack) {
    const e2eRatio = of((r) => r.baseline / r.e2e!.seconds);
    const overhead = of((r) => (r.e2e!.ingestSeconds - r.engine.seconds) / r.engine.seconds);
    const p99 = spread(starter.map((s) => s.p99Ms));
    const hostPeak = rounds.every((r) => r.e2e!.hostPeakMiB !== null) ? e2eOf((e) => e.hostPeakMiB!) : undefined;
    table.push(
      ['end to end', `${formatSpread(e2eOf((e) => e.seconds), secs)}  (${formatSpread(e2eOf((e) => rows / e.seconds), rate)} rows/s)`],
      [`  upload (API, ${rounds[0]!.e2e!.uploadParts > 1 ? `${rounds[0]!.e2e!.uploadParts} parts` : 'one PUT'})`, `${formatSpread(e2eOf((e) => e.uploadSeconds), secs)} (${formatSpread(e2eOf((e) => e.uploadMiBps), (v) => `${v.toFixed(0)} MiB/s`)})`],
      ['  ingest', `${formatSpread(e2eOf((e) => e.ingestSeconds), secs)} (CPU ${formatSpread(e2eOf((e) => e.ingestCpu), secs)}, engine: ${formatSpread(of((r) => r.engine.cpu.plan + r.engine.cpu.commit + r.engine.cpu.activate), secs)})`],
      ['    CPU by process', `host ${formatSpread(e2eOf((e) => e.ingestCpuParts.host), secs)}; PostgreSQL ${formatSpread(e2eOf((e) => e.ingestCpuParts.postgres), secs)}; storage (Azurite) ${formatSpread(e2eOf((e) => e.ingestCpuParts.storage), secs)}; bench ${formatSpread(e2eOf((e) => e.ingestCpuParts.bench), secs)}`],
      ['    to orchestration start', formatSpread(e2eOf((e) => e.phases.start), secs)],
      ['    register', formatSpread(e2eOf((e) => e.phases.register), secs)],
      ['    plan', formatSpread(e2eOf((e) => e.phases.plan), secs)],
      ['    commit', `${formatSpread(e2eOf((e) => e.phases.commit), secs)} (chunk slots idle waiting for their batch: ${formatSpread(e2eOf((e) => e.phases.batchIdle), percent)})`],
      ['    activate', formatSpread(e2eOf((e) => e.phases.activate), secs)],
      ['    publish, delete blob', formatSpread(e2eOf((e) => e.phases.publish), secs)],
      ['    between steps', formatSpread(e2eOf((e) => e.phases.between), secs)],
      ['  event consumed', formatSpread(e2eOf((e) => e.eventSeconds), secs)],
      ['  first committed row', `${formatSpread(e2eOf((e) => e.firstRowSeconds), secs)} after the blob upload`],
      ['e2e ratio', `${formatSpread(e2eRatio, fixed2)}  pairwise: ${rounds.map((r) => fixed2(r.baseline / r.e2e!.seconds)).join(', ')}`],
      ['durable overhead', `${formatSpread(overhead, percent)} of engine time (ingest - engine, same round)`],
      ['starter latency', `p50 ${formatSpread(spread(starter.map((s) => s.p50Ms)), ms)}, p99 ${formatSpread(p99, ms)} (100 deliveries in flight, ${runs} round(s))`],
    );
    if (hostPeak) table.push(['host peak RSS', formatSpread(hostPeak, mib)]);
    e2eSummary =
      ` e2e=${Math.round(e2eOf((e) => rows / e.seconds).median)} rows/s e2e_ratio=${fixed2(e2eRatio.median)}` +
      ` upload_mib_s=${e2eOf((e) => e.uploadMiBps).median.toFixed(1)}` +
      ` overhead=${Math.round(overhead.median * 100)}% first_row=${e2eOf((e) => e.firstRowSeconds).median.toFixed(2)}s` +
      ` starter_p99=${Math.round(p99.median)}ms` + (hostPeak ? ` host_rss=${Math.round(hostPeak.median)} MiB` : '');
  }
  let matchSummary = '';
  if (matches) {
    const m = (pick: (round: MatchRound) => number) => spread(matches.rounds.map(pick));
    const matchRatio = m((r) => r.joinSeconds / r.runSeconds);
    const pairwise = matches.rounds.map((r) => fixed2(r.joinSeconds / r.runSeconds)).join(', ');
    table.push(
      ['match run', `${formatSpread(m((r) => r.runSeconds), secs)}  (${formatSpread(m((r) => matches.records / r.runSeconds), rate)} matches/s; CPU ${formatSpread(m((r) => r.runCpu), secs)}; ${matches.records} records, ${matchRows} rows x ${matchStates} other states, 1 % shared)`],
      ['  bare join', `${formatSpread(m((r) => r.joinSeconds), secs)}  (index merge ${formatSpread(m((r) => r.indexJoinSeconds), secs)}, CPU ${formatSpread(m((r) => r.joinCpu), secs)}; active view ${secs(matches.viewJoinSeconds)}; set up in ${matches.setupSeconds.toFixed(0)} s)`],
      ['  join with both sides', `${formatSpread(m((r) => r.fieldsJoinSeconds), secs)}  (the same join returning each side's participant and case id; ratio ${formatSpread(m((r) => r.fieldsJoinSeconds / r.runSeconds), fixed2)})`],
      ['match ratio', `${formatSpread(matchRatio, fixed2)}  pairwise: ${pairwise}; CPU ${formatSpread(m((r) => r.joinCpu / r.runCpu), fixed2)} (load ${formatSpread(m((r) => r.load), fixed2)})`],
    );
    matchSummary =
      ` matches=${Math.round(m((r) => matches.records / r.runSeconds).median)}/s match_join=${m((r) => r.joinSeconds).median.toFixed(2)}s` +
      ` match_ratio=${fixed2(matchRatio.median)}`;
  }
  if (queries) table.push(['match query', formatQueryPhase(queries, queryOptions(postgres.url))]);
  console.log(`\nsummary over ${runs} round(s): min / median / max`);
  for (const [name, value] of table) console.log(`  ${name.padEnd(28)} ${value}`);
  if (compare) {
    console.log(`\nside by side (medians): the same ${rows.toLocaleString('en-US')}-row file into the same PostgreSQL server`);
    const baselineSeconds = of((r) => r.baseline).median;
    const line = (name: string, seconds: number, note = '') =>
      console.log(`  ${name.padEnd(32)} ${seconds.toFixed(2).padStart(8)} s ${Math.round(rows / seconds).toLocaleString('en-US').padStart(10)} rows/s  x${(baselineSeconds / seconds).toFixed(2)} of COPY${note}`);
    const vsPgloader = (seconds: number) => (pgloaderRun ? `  x${(pgloaderRun.seconds / seconds).toFixed(1)} pgloader` : '');
    line('raw COPY (no checks)', baselineSeconds);
    if (pgloaderRun) line(`pgloader ${pgloader} (no checks)`, pgloaderRun.seconds);
    const engineSeconds = of((r) => r.engine.seconds).median;
    line('bulkflow engine', engineSeconds, vsPgloader(engineSeconds));
    if (stack) {
      const e2eSeconds = e2eOf((e) => e.seconds).median;
      line('bulkflow end to end', e2eSeconds, vsPgloader(e2eSeconds));
    }
  }
  console.log(
    `bench: rows=${rows} runs=${runs} engine=${Math.round(engineRate.median)} rows/s baseline=${Math.round(baselineRate.median)} rows/s ` +
      `ratio=${fixed2(ratio.median)} floor_ratio=${fixed2(floorRatio.median)} first_row_engine=${of((r) => r.engine.firstRow).median.toFixed(2)}s rss=${Math.round(process.resourceUsage().maxRSS / 1024)} MB` +
      e2eSummary +
      (pgloaderRun ? ` pgloader=${Math.round(rows / pgloaderRun.seconds)} rows/s pgloader_ratio=${(of((r) => r.baseline).median / pgloaderRun.seconds).toFixed(2)}` : '') +
      matchSummary +
      (queries ? ` query_p95=${queries.query.p95.toFixed(1)}ms lookup_p95=${queries.lookup.p95.toFixed(1)}ms` : ''),
  );
} finally {
  await stack?.stop();
  await appPool.end();
  await database.drop();
  await postgres.stop();
  await floor.remove();
  if (process.argv.includes('--remove-file')) await Promise.all([file, cleanFile].map((path) => rm(path, { force: true })));
}
