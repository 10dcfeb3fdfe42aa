import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import pg from 'pg';
import { ingestFile } from '../local/src/cli/ingest.js';
import { isFinal } from '../src/engine/index.js';
import { uploadTable } from '../src/engine/db.js';
import type { UploadStatusBody } from '../src/status/statusBody.js';
import { appPackagePath } from '../local/src/packageRoot.js';
import { startLocalStack, type LocalStack } from '../local/src/stack.js';
import { generateParticipantsCsv, HEADER } from './generate.js';
import { memory, resetPeak } from './processMemory.js';
import { durablePhases } from './e2e.js';

/**
 * `npm run bench:scale [-- --rows 10000000] [--small-rows 1000000] [--uploads 200] [--states 50]`: the whole product on
 * the embedded defaults, the Functions host in its own process (as on Azure). 1) a file of --small-rows, then one of
 * --rows, end to end: time, the host's peak RSS, and each one's activation (from the orchestration's history), so
 * activation's growth with the rows is measured in one invocation on one machine state; 2) many small uploads from many
 * states at once: all final, the newest upload of each state active, the host's peak RSS. Prints one
 * `scale: rows= seconds= activation_1m= activation_10m= activation_growth=` line (1m, 10m: the two files' activations).
 * Each file's line also has where its activation went (from the database's timestamps) and the WAL, checkpoints and
 * sort spill of its whole run.
 */
const STATES = ['AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY', 'LA', 'ME', 'MD',
  'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC',
  'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI', 'WY'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '10000000' },
      'small-rows': { type: 'string', default: '1000000' },
      uploads: { type: 'string', default: '200' },
      states: { type: 'string', default: '50' },
      'rows-per-upload': { type: 'string', default: '500' },
    },
  });
  const rows = Number(values.rows);
  const uploadCount = Number(values.uploads);
  const stateCount = Math.min(Number(values.states), STATES.length);
  const root = appPackagePath();
  await mkdir(join(root, '.data'), { recursive: true });
  const dataDir = await mkdtemp(join(root, '.data', 'scale-'));
  const stack = await startLocalStack({
    appDir: root, dataDir, port: 0, eventHubsPort: 0, persistent: false, logLevel: 'warning', hostProcess: true,
    // It polls 200 uploads a second: far above the per-caller API limit, which is not what it measures.
    settings: { API_RATE_LIMIT_PER_MINUTE: '1000000' },
  });
  try {
    console.log(`server: ${JSON.stringify(await serverSettings(stack.adminDatabaseUrl))}`);
    let scaleLine = '';
    if (rows > 0) {
      const small = await oneFile(stack, dataDir, Number(values['small-rows']), 'PR');
      const big = await oneFile(stack, dataDir, rows, 'AS');
      scaleLine = `scale: rows=${rows} seconds=${big.seconds.toFixed(1)} activation_1m=${small.activation.toFixed(2)} ` +
        `activation_10m=${big.activation.toFixed(2)} activation_growth=${(big.activation / small.activation).toFixed(1)} host_rss=${big.hostPeakRssMiB ?? '?'}`;
    }
    if (uploadCount > 0) await manyUploads(stack, uploadCount, STATES.slice(0, stateCount), Number(values['rows-per-upload']));
    if (scaleLine) console.log(scaleLine);
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** One generated file of `rows` rows end to end as state `state`; its seconds, activation seconds and the host's peak. */
async function oneFile(stack: LocalStack, dataDir: string, rows: number, state: string): Promise<{ seconds: number; activation: number; hostPeakRssMiB: number | null }> {
  const file = join(dataDir, `participants-scale-${rows}.csv`);
  let t0 = Date.now();
  const generated = await generateParticipantsCsv(file, { rows, badShare: 0.001, seed: 1 });
  console.log(`generated ${rows.toLocaleString()} rows (${(generated.bytes / 2 ** 20).toFixed(0)} MiB, ${generated.badRows} bad) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const peakReset = await resetPeak(stack.hostPid);
    const before = await memory(stack.hostPid);
    const serverBefore = await serverCounters(stack.adminDatabaseUrl);
    t0 = Date.now();
    const summary = await ingestFile(stack, file, state, { progress: false });
    const seconds = (Date.now() - t0) / 1000;
    const after = await memory(stack.hostPid);
    const phases = await durablePhases(stack.url, summary.instanceId, t0);
    const server = await serverDelta(stack.adminDatabaseUrl, serverBefore);
    const { finalize, rest } = await activationTimeline(stack.adminDatabaseUrl, summary.uploadId);
    const activationSteps = { vacuum: Number((phases.activate - finalize - rest).toFixed(2)), finalize, rest };
    const hostPeakRssMiB = peakReset ? after.peakMiB : null;
    console.log(JSON.stringify({
      phase: 'one big file', rows, status: summary.status, rowsCommitted: summary.rowsCommitted, rowsRejected: summary.rowsRejected,
      expectedRejected: generated.badRows, seconds: Math.round(seconds), rowsPerSecond: Math.round(rows / seconds), phases, activationSteps, server,
      eventPublished: summary.event !== null, peakReset, hostRssMiBBefore: before.rssMiB, hostPeakRssMiB, hostRssMiBAfter: after.rssMiB,
    }));
    if (summary.status !== 'complete' || summary.rowsRejected !== generated.badRows || summary.rowsCommitted !== rows - generated.badRows) process.exitCode = 1;
    return { seconds, activation: phases.activate, hostPeakRssMiB };
  } finally {
    await rm(file, { force: true });
  }
}

async function withDatabase<T>(url: string, use: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await use(db);
  } finally {
    await db.end();
  }
}

async function serverSettings(adminUrl: string): Promise<Record<string, string>> {
  return withDatabase(adminUrl, async (db) => {
    const { rows } = await db.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM pg_settings
        WHERE name IN ('max_wal_size', 'checkpoint_timeout', 'shared_buffers', 'data_checksums', 'server_version') ORDER BY name`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  });
}

interface ServerCounters { lsn: string; checkpoints: number; tempBytes: number }

/** The server's WAL position, checkpoints begun and bytes sorts spilled to disk (the counters lag up to a second). */
async function serverCounters(adminUrl: string): Promise<ServerCounters> {
  return withDatabase(adminUrl, async (db) => {
    const { rows: [row] } = await db.query<{ lsn: string; checkpoints: number; temp: string }>(
      `SELECT pg_current_wal_lsn()::text AS lsn, (SELECT num_timed + num_requested FROM pg_stat_checkpointer)::int AS checkpoints,
              (SELECT sum(temp_bytes) FROM pg_stat_database)::text AS temp`,
    );
    return { lsn: row!.lsn, checkpoints: row!.checkpoints, tempBytes: Number(row!.temp) };
  });
}

async function serverDelta(adminUrl: string, before: ServerCounters): Promise<{ walMiB: number; checkpoints: number; tempMiB: number }> {
  await new Promise((done) => setTimeout(done, 1500));
  const now = await serverCounters(adminUrl);
  const wal = await withDatabase(adminUrl, (db) => db.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS bytes', [now.lsn, before.lsn]));
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  return { walMiB: mib(Number(wal.rows[0]!.bytes)), checkpoints: now.checkpoints - before.checkpoints, tempMiB: mib(now.tempBytes - before.tempBytes) };
}

/**
 * Where activation went after its VACUUM (ANALYZE), from the database's clocks: its statistics' timestamp to
 * finalized_at (the participant_id build and the duplicate search, beside the lookup index build), then the rest (key
 * filter, attach) to the transaction that activates it. The activity's time less these is its VACUUM (and start).
 */
async function activationTimeline(adminUrl: string, uploadId: string): Promise<{ finalize: number; rest: number }> {
  return withDatabase(adminUrl, async (db) => {
    const { rows: [row] } = await db.query<{ finalize: string; rest: string }>(
      `SELECT extract(epoch FROM u.finalized_at - s.last_analyze) AS finalize, extract(epoch FROM u.completed_at - u.finalized_at) AS rest
         FROM bulkflow.uploads u JOIN pg_stat_all_tables s ON s.schemaname = 'bulkflow' AND s.relname = $2
        WHERE u.upload_id = $1`,
      [uploadId, uploadTable(uploadId).name],
    );
    const seconds = (text: string | undefined) => Number(Number(text).toFixed(2));
    return { finalize: seconds(row?.finalize), rest: seconds(row?.rest) };
  });
}

async function manyUploads(stack: LocalStack, count: number, states: string[], rowsEach: number): Promise<void> {
  const { settings, url } = stack;
  const headers = { authorization: `Bearer ${await stack.issuer!.mint({ operator: true })}` };
  const container = BlobServiceClient.fromConnectionString(settings.UploadStorage!).getContainerClient('uploads');
  await container.createIfNotExists();
  const blobs = Array.from({ length: count }, (_, i) => {
    const state = states[i % states.length]!;
    let body = `${HEADER}\n`;
    for (let r = 0; r < rowsEach; r++) body += `${(i * rowsEach + r).toString(16).padStart(128, '0')},C${r},P${i}-${r},,,\n`;
    return { name: `${state.toLowerCase()}/batch-${String(i).padStart(4, '0')}.csv`, state, body };
  });
  const peakReset = await resetPeak(stack.hostPid);
  const t0 = Date.now();
  await Promise.all(blobs.map((b) => container.getBlockBlobClient(b.name).upload(b.body, Buffer.byteLength(b.body))));
  const finals = new Map<string, UploadStatusBody>();
  const deadline = Date.now() + 30 * 60_000;
  while (finals.size < blobs.length && Date.now() < deadline) {
    for (const b of blobs) {
      if (finals.has(b.name)) continue;
      const response = await fetch(`${url}/api/uploads?blob=${encodeURIComponent(b.name)}`, { headers });
      if (!response.ok) continue;
      const status = (await response.json()) as UploadStatusBody;
      if (isFinal(status.status)) finals.set(b.name, status);
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
  const seconds = (Date.now() - t0) / 1000;
  // The right active upload per state: the one registered last (highest seq) among those that completed.
  const db = new pg.Client({ connectionString: settings.DATABASE_URL });
  await db.connect();
  const { rows: wrong } = await db.query<{ state: string }>(
    `SELECT s.state FROM bulkflow.active_uploads a
       RIGHT JOIN (SELECT DISTINCT ON (state) state, upload_id FROM bulkflow.uploads
                    WHERE state = ANY($1) AND status IN ('complete', 'superseded') ORDER BY state, seq DESC) s
         ON s.state = a.state AND s.upload_id = a.upload_id
      WHERE a.upload_id IS NULL`,
    [states],
  );
  await db.end();
  const byStatus: Record<string, number> = {};
  for (const s of finals.values()) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
  console.log(JSON.stringify({
    phase: 'many small uploads at once', uploads: count, states: states.length, rowsEach, final: finals.size, byStatus,
    seconds: Math.round(seconds), statesWithWrongActiveUpload: wrong.map((w) => w.state), peakReset, hostPeakRssMiB: (await memory(stack.hostPid)).peakMiB,
  }));
  if (finals.size !== count || (byStatus.failed ?? 0) > 0 || wrong.length > 0) process.exitCode = 1;
}

await main();
