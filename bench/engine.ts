import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { activateUpload, commitChunk, fileByteSource, migrate, planUpload, registerUpload } from '../src/engine/index.js';
import { resolvePostgres } from '../local/src/embeddedPostgres.js';
import { BAD_KINDS, generateParticipantsCsv } from './generate.js';
import { e2eDataDir, measureEndToEnd } from './e2e.js';
import { PGLOADER_INSTALL_HINT, pgloaderVersion, runPgloader } from './pgloader.js';
import { measureMatches } from './matches.js';

/**
 * `npm run bench -- --rows N [--concurrency C] [--chunk-mb M] [--bad SHARE] [--compare] [--match-rows N | --no-matches]`:
 * the engine against a raw COPY of the same file into an unindexed all-text table, on the same server, in the same
 * run; then the end-to-end path through the local stack (skip with --engine-only); then match analysis against a
 * bare join (bench/matches.ts). --compare adds pgloader loading the same file into the same kind of table, when it
 * is installed, and prints every loader side by side.
 */
function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
}

const rows = option('rows', 1_000_000);
const concurrency = option('concurrency', 2);
const chunkBytes = option('chunk-mb', 8) * 1024 * 1024;
const badShare = option('bad', 0.001);
const skipE2e = process.argv.includes('--engine-only');
const compare = process.argv.includes('--compare');
// Match phase: a new upload against 10 other states' active uploads of as many rows, 1 % shared with each.
const matchRows = process.argv.includes('--no-matches') ? 0 : option('match-rows', rows);
const BASELINE_COLUMNS = ['lds_hash', 'case_id', 'participant_id', 'participant_closing_date', 'recent_benefit_issuance_dates', 'vulnerable_individual'];

const dataDir = join(process.cwd(), '.data');
await mkdir(join(dataDir, 'bench'), { recursive: true });
// Field-count errors would stop the baseline's plain COPY, so the bench plants every other kind.
const kinds = BAD_KINDS.filter((kind) => kind !== 'field_count');
const file = join(dataDir, 'bench', `participants-${rows}-${badShare}.csv`);
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
let started = process.hrtime.bigint();
if (!existsSync(file)) await generateParticipantsCsv(file, { rows, badShare, badKinds: kinds, seed: 1 });
const generateSeconds = seconds(started);
const sizeBytes = (await stat(file)).size;

const postgres = await resolvePostgres({ dataDir: join(dataDir, `bench-postgres-${process.pid}`), persistent: false });
const database = `bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: postgres.url });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(postgres.url);
url.pathname = `/${database}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: concurrency + 2 });
pool.on('error', () => {}); // an idle connection closed by the server is dropped by the pool
const table: [string, string][] = [];
try {
  await migrate(url.toString());

  // Both raw loaders write into the same unindexed all-text table, dropped and checkpointed after each run.
  const createBaseline = () => pool.query(`CREATE TABLE baseline (${BASELINE_COLUMNS.map((c) => `${c} text`).join(', ')})`);
  const dropBaseline = async () => {
    const { rows: [count] } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM baseline');
    await pool.query('DROP TABLE baseline');
    await pool.query('CHECKPOINT');
    return Number(count!.n);
  };
  await createBaseline();
  started = process.hrtime.bigint();
  const client = await pool.connect();
  try {
    await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), client.query(copyFrom('COPY baseline FROM STDIN (FORMAT csv, HEADER true)')));
  } finally {
    client.release();
  }
  const baselineSeconds = seconds(started);
  await dropBaseline();

  const pgloader = compare ? pgloaderVersion() : undefined;
  let pgloaderRun: { seconds: number; rows: number } | undefined;
  if (compare && !pgloader) console.log(`pgloader: not installed, skipped; ${PGLOADER_INSTALL_HINT}`);
  if (pgloader) {
    await createBaseline();
    const run = await runPgloader({ file, databaseUrl: url.toString(), table: 'baseline', columns: BASELINE_COLUMNS });
    pgloaderRun = { seconds: run.seconds, rows: await dropBaseline() };
    if (pgloaderRun.rows !== rows) console.log(`pgloader loaded ${pgloaderRun.rows} of ${rows} rows (${run.report})`);
  }

  const source = fileByteSource(file);
  started = process.hrtime.bigint();
  const { uploadId } = await registerUpload(pool, { state: 'BE', source: 'be/participants.csv', etag: randomBytes(8).toString('hex') });
  const planned = await planUpload(pool, uploadId, source, { targetChunkBytes: chunkBytes });
  if (!planned.ok) throw new Error(`plan failed: ${planned.error.message}`);
  const planSeconds = seconds(started);
  const commitStart = process.hrtime.bigint();
  const chunks = planned.plan.chunks;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        await commitChunk(pool, { uploadId, chunkNo: chunk.chunkNo }, source);
      }
    }),
  );
  const commitSeconds = seconds(commitStart);
  const activateStart = process.hrtime.bigint();
  const result = await activateUpload(pool, uploadId, { maxRejectedShare: 0.05 });
  const activateSeconds = seconds(activateStart);
  const engineSeconds = seconds(started);
  if (result.status !== 'complete') throw new Error(`upload ended ${result.status}: ${result.errorMessage}`);

  const engineRate = rows / engineSeconds;
  const baselineRate = rows / baselineSeconds;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  // The product path on the same file and server: blob upload -> durable fan-out -> active -> event consumed.
  const e2e = skipE2e ? undefined : await measureEndToEnd({ file, databaseUrl: url.toString(), dataDir: e2eDataDir(process.cwd()) });
  const e2eRate = e2e ? rows / e2e.seconds : 0;
  const matches = matchRows
    ? await measureMatches({ serverUrl: postgres.url, rows: matchRows, otherStates: 10, sharedShare: 0.01, dir: join(dataDir, 'bench'), concurrency })
    : undefined;
  table.push(
    ['rows', String(rows)],
    ['file', `${(sizeBytes / 1e6).toFixed(0)} MB (generated in ${generateSeconds.toFixed(1)} s)`],
    ['chunks', `${chunks.length} x ~${(chunkBytes / 1048576).toFixed(0)} MiB, concurrency ${concurrency}`],
    ['baseline COPY', `${baselineSeconds.toFixed(2)} s  ${Math.round(baselineRate)} rows/s`],
    ['engine plan', `${planSeconds.toFixed(2)} s`],
    ['engine commit', `${commitSeconds.toFixed(2)} s`],
    ['engine activate', `${activateSeconds.toFixed(2)} s`],
    ['engine total', `${engineSeconds.toFixed(2)} s  ${Math.round(engineRate)} rows/s`],
    ['committed/rejected', `${result.rowsCommitted} / ${result.rowsRejected}`],
  );
  if (e2e) {
    table.push(
      ['end to end', `${e2e.seconds.toFixed(2)} s  ${Math.round(e2eRate)} rows/s (${e2e.status}, ${e2e.rowsCommitted} rows)`],
      ['  phases', `blob upload ${e2e.phases.uploadSeconds.toFixed(2)} s, ingest ${e2e.phases.ingestSeconds.toFixed(2)} s, event consumed ${e2e.phases.eventSeconds.toFixed(2)} s`],
      ['starter latency', `p50 ${e2e.starterP50Ms} ms, p99 ${e2e.starterP99Ms} ms (100 events in flight)`],
    );
  }
  if (matches) {
    table.push(
      ['match run', `${matches.runSeconds.toFixed(2)} s  ${Math.round(matches.records / matches.runSeconds)} matches/s (${matches.records} records, ${matchRows} rows x 10 other states, 1 % shared)`],
      ['  bare join', `${matches.joinSeconds.toFixed(2)} s  ${Math.round(matches.records / matches.joinSeconds)} matches/s (active view ${matches.viewJoinSeconds.toFixed(2)} s, index merge ${matches.indexJoinSeconds.toFixed(2)} s; set up in ${matches.setupSeconds.toFixed(0)} s)`],
    );
  }
  for (const [name, value] of table) console.log(`${name.padEnd(20)} ${value}`);
  if (compare) {
    console.log(`\nside by side: the same ${rows.toLocaleString('en-US')}-row file into the same PostgreSQL server`);
    const line = (name: string, secs: number, note = '') =>
      console.log(`  ${name.padEnd(32)} ${secs.toFixed(2).padStart(8)} s ${Math.round(rows / secs).toLocaleString('en-US').padStart(10)} rows/s  x${(baselineSeconds / secs).toFixed(2)} of COPY${note}`);
    line('raw COPY (no checks)', baselineSeconds);
    if (pgloaderRun) line(`pgloader ${pgloader} (no checks)`, pgloaderRun.seconds);
    line('bulkflow engine', engineSeconds, pgloaderRun ? `  x${(pgloaderRun.seconds / engineSeconds).toFixed(1)} pgloader` : '');
    if (e2e) line('bulkflow end to end', e2e.seconds, pgloaderRun ? `  x${(pgloaderRun.seconds / e2e.seconds).toFixed(1)} pgloader` : '');
  }
  console.log(
    `bench: rows=${rows} engine=${Math.round(engineRate)} rows/s baseline=${Math.round(baselineRate)} rows/s ratio=${(engineRate / baselineRate).toFixed(2)} rss=${Math.round(rssMb)} MB` +
      (e2e ? ` e2e=${Math.round(e2eRate)} rows/s e2e_ratio=${(e2eRate / baselineRate).toFixed(2)}` : '') +
      (pgloaderRun ? ` pgloader=${Math.round(rows / pgloaderRun.seconds)} rows/s pgloader_ratio=${(baselineSeconds / pgloaderRun.seconds).toFixed(2)}` : '') +
      (matches ? ` matches=${Math.round(matches.records / matches.runSeconds)}/s match_ratio=${(matches.joinSeconds / matches.runSeconds).toFixed(2)}` : ''),
  );
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
  await postgres.stop();
  if (process.argv.includes('--remove-file')) await rm(file, { force: true });
}
