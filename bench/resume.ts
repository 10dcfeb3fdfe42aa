import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isFinal } from '../src/engine/index.js';
import { resolvePostgres } from '../local/src/embeddedPostgres.js';
import { appPackagePath } from '../local/src/packageRoot.js';
import { startLocalStack } from '../local/src/stack.js';
import { uploadFile, type UploadResult } from '../local/src/cli/partsUpload.js';
import { sessionCommitInstanceId } from '../src/functions/uploadSessions.js';
import { generateParticipantsCsv } from './generate.js';
import { createBenchDatabase } from './database.js';
import { memory } from './processMemory.js';

/**
 * `npm run bench:resume [-- --rows N] [--kill-at SHARE] [--part-mib M] [--keep-file]`: issue 23's done-when run. A file of N rows
 * (default 10M, ~2 GB) goes up through the upload API in parts by the CLI's upload client (local/src/cli/partsUpload.ts,
 * what `bulkflow ingest` runs, four parts at once) in a process of its own, which is killed with SIGKILL once the
 * server holds SHARE (default 0.4) of the file. A second client process resumes it; then the file is ingested and its
 * rows compared with the file: their count, and a digest of each row's hash, case id, participant id, closing date
 * and vulnerable flag (summed, so order does not matter). Prints the bytes and parts sent again (a part counts as re-sent
 * when both runs started it), the host's RSS before and at its peak during the upload, upload MiB/s, the commit's time
 * (whole-file SHA-256 read back and copy), the ingest's time from the commit and whether every row is exact.
 * The file is deleted afterwards unless --keep-file.
 */

const argument = (name: string) => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
};

// `node dist/bench/resume.js --client URL STATE FILE NAME TOKEN`: one run of the upload client, its result as JSON.
if (process.argv[2] === '--client') {
  const [baseUrl, state, file, fileName, token] = process.argv.slice(3) as [string, string, string, string, string];
  const result: UploadResult = await uploadFile({ baseUrl, state, file, fileName, token, parallel: 4 });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const rows = Number(argument('rows') ?? 10_000_000);
const killAt = Number(argument('kill-at') ?? 0.4);
/** UPLOAD_PART_BYTES for the host (default: the app's, 64 MiB); smaller parts let a small file go in parts. */
const partMiB = argument('part-mib');
const STATE = 'WY';
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const MiB = 2 ** 20;

/** Count and order-free digest of the rows as the database holds them, computed the same way from the file. */
const ROW_DIGEST_SQL = `
  SELECT count(*)::bigint AS n,
         coalesce(sum(('x' || substr(md5(concat_ws('|', encode(lds_hash, 'hex'), coalesce(case_id, ''), participant_id,
           coalesce(participant_closing_date::text, ''), coalesce(vulnerable_individual::text, ''))), 1, 15))::bit(60)::bigint), 0)::text AS digest
  FROM bulkflow.participants WHERE upload_id = $1`;

async function fileDigest(file: string): Promise<{ n: bigint; digest: bigint }> {
  let n = 0n;
  let digest = 0n;
  let header = true;
  for await (const line of createInterface({ input: createReadStream(file, { highWaterMark: 1 << 20 }), crlfDelay: Infinity })) {
    if (header || line === '') {
      header = false;
      continue;
    }
    // The generator quotes only the case id, never with a comma inside.
    const [lds, caseId, participant, closing, , vulnerable] = line.split(',').map((field) => field.replace(/^"|"$/g, '')) as string[];
    const text = [lds, caseId, participant, closing, vulnerable].join('|');
    digest += BigInt(`0x${createHash('md5').update(text).digest('hex').slice(0, 15)}`);
    n += 1n;
  }
  return { n, digest };
}

/**
 * A TCP relay in front of the host that counts what clients send: every byte of every attempt, headers included,
 * and each part request started (its request line), so a part sent by both runs is seen as sent again.
 */
function countingRelay(targetPort: number): Promise<{ server: Server; port: number; sent: () => number; sendingMs: () => number; partsStarted: () => number[] }> {
  let sent = 0;
  const started: number[] = [];
  // Time spent sending: gaps between received chunks under a second (not the hashing, the commit or the kill).
  let sendingMs = 0;
  let lastAt = 0;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      // A request line starts a chunk of its own in practice (the client writes headers, then the body); CSV rows
      // never look like one.
      const line = /^PUT \S+\/parts\/(\d+) HTTP\//.exec(chunk.subarray(0, 300).toString('latin1'));
      if (line) started.push(Number(line[1]));
      const now = Date.now();
      if (now - lastAt < 1000) sendingMs += now - lastAt;
      lastAt = now;
    });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, sent: () => sent, sendingMs: () => sendingMs, partsStarted: () => [...started] })));
}

/** The commit orchestration's `verifyUploadSession` activity, scheduled to completed, from its durable history (s). */
async function commitActivity(hostUrl: string, uploadId: string): Promise<number> {
  const { rows: [session] } = await pool.query<{ id: string }>('SELECT id FROM bulkflow.upload_sessions WHERE upload_id = $1', [uploadId]);
  const response = await fetch(`${hostUrl}/runtime/webhooks/durabletask/instances/${sessionCommitInstanceId(session!.id)}?showHistory=true`);
  const { historyEvents } = (await response.json()) as { historyEvents: Array<{ EventType: string; Timestamp: string; FunctionName?: string; ScheduledTime?: string }> };
  const done = historyEvents.find((e) => e.EventType === 'TaskCompleted' && e.FunctionName === 'verifyUploadSession' && e.ScheduledTime);
  return done ? (Date.parse(done.Timestamp) - Date.parse(done.ScheduledTime!)) / 1000 : NaN;
}

const dataDir = join(process.cwd(), '.data');
await mkdir(join(dataDir, 'bench'), { recursive: true });
const file = join(dataDir, 'bench', `resume-${rows}.csv`);
const generateStart = Date.now();
if (!existsSync(file)) await generateParticipantsCsv(file, { rows, badShare: 0, seed: 23 });
const size = (await stat(file)).size;
console.log(`${rows} rows, ${(size / 1e6).toFixed(0)} MB (ready in ${((Date.now() - generateStart) / 1000).toFixed(1)} s)`);

const postgres = await resolvePostgres({ dataDir: join(dataDir, `bench-postgres-${process.pid}`), persistent: false });
const database = await createBenchDatabase(postgres.url, 'bench_resume', 2);
const { pool, url } = database;
const stackDir = join(dataDir, `bench-resume-stack-${process.pid}`);
let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
let relay: Awaited<ReturnType<typeof countingRelay>> | undefined;
try {
  stack = await startLocalStack({
    appDir: appPackagePath(), dataDir: stackDir, port: 0, eventHubsPort: 0, persistent: false, logLevel: 'warning', hostProcess: true,
    settings: { DATABASE_URL: url, TASK_HUB_NAME: 'benchresume', ...(partMiB ? { UPLOAD_PART_BYTES: String(Number(partMiB) * MiB) } : {}) },
  });
  relay = await countingRelay(Number(new URL(stack.url).port));
  const baseUrl = `http://127.0.0.1:${relay.port}`;
  const token = await stack.issuer!.mint({ states: [STATE] });
  const fileName = `resume-${rows}.csv`;
  const clientArgs = [fileURLToPath(import.meta.url), '--client', baseUrl, STATE, file, fileName, token];

  // The host's resident memory from before the upload to its commit, sampled every 250 ms.
  const rssBefore = (await memory(stack.hostPid)).rssMiB ?? 0;
  let rssMax = rssBefore;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      rssMax = Math.max(rssMax, (await memory(stack!.hostPid)).rssMiB ?? 0);
      await sleep(250);
    }
  })();
  const held = async () => {
    const { rows: [row] } = await pool.query<{ bytes: string }>('SELECT coalesce(sum(bytes), 0)::text AS bytes FROM bulkflow.upload_session_parts');
    return Number(row!.bytes);
  };

  // Run 1: killed with SIGKILL once the server holds `killAt` of the file.
  const started1 = Date.now();
  const first = spawn(process.execPath, clientArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
  const firstExit = new Promise<number | null>((done) => first.on('exit', (code) => done(code)));
  while ((await held()) < size * killAt) {
    if (first.exitCode !== null) throw new Error(`the first client ended before it was killed (exit ${first.exitCode})`);
    await sleep(100);
  }
  first.kill('SIGKILL');
  await firstExit;
  const seconds1 = (Date.now() - started1) / 1000;
  // The cut parts are given up by the host as their connections close (and the relay passes on what it still had).
  await sleep(3000);
  const sentByFirst = relay.sent();
  const startedByFirst = relay.partsStarted();
  const heldAfterKill = await held();
  const { rows: heldRows } = await pool.query<{ part_number: number }>('SELECT part_number FROM bulkflow.upload_session_parts');
  const heldParts = new Set(heldRows.map((row) => row.part_number));
  const inFlightAtKill = [...new Set(startedByFirst)].filter((n) => !heldParts.has(n)).sort((a, b) => a - b);
  const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
  console.log(`run 1: sent ${mb(sentByFirst)} MB in ${seconds1.toFixed(1)} s, killed (SIGKILL) with ${mb(heldAfterKill)} MB held by the server`);

  // Run 2: the same client, started again, resumes.
  const started2 = Date.now();
  const second = spawn(process.execPath, clientArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  second.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let verifyingAt: number | undefined;
  let committedAt: number | undefined;
  const watcher = (async () => {
    while (committedAt === undefined && second.exitCode === null) {
      const { rows: [row] } = await pool.query<{ status: string }>("SELECT status FROM bulkflow.upload_sessions WHERE status <> 'failed' ORDER BY created_at DESC LIMIT 1");
      if (row?.status === 'verifying') verifyingAt ??= Date.now();
      if (row?.status === 'committed') committedAt = Date.now();
      await sleep(100);
    }
  })();
  const code = await new Promise<number | null>((done) => second.on('exit', (exit) => done(exit)));
  await watcher;
  sampling = false;
  await sampler;
  if (code !== 0) throw new Error(`the resuming client exited ${code}`);
  const result = JSON.parse(output.trim().split('\n').at(-1)!) as UploadResult;
  const seconds2 = (Date.now() - started2) / 1000;
  const sentTotal = relay.sent();
  const resent = sentTotal - size;
  const commitSeconds = verifyingAt !== undefined && committedAt !== undefined ? (committedAt - verifyingAt) / 1000 : NaN;
  const activity = await commitActivity(stack.url, result.uploadId);
  const uploadMBps = sentTotal / 1e6 / (relay.sendingMs() / 1000);
  const uploadMiBps = (uploadMBps * 1e6) / MiB;
  // Parts the second run sent that the first had started: re-sent after the kill (at most the parts in flight).
  const startedBySecond = relay.partsStarted().slice(startedByFirst.length);
  const resentParts = startedBySecond.filter((n) => startedByFirst.includes(n));
  console.log(
    `run 2: resumed with ${mb(result.resumedBytes)} MB held, sent ${mb(result.uploadBytes)} MB (${result.parts} parts in all) in ${seconds2.toFixed(1)} s ` +
      `(hashing the file, the parts, the commit)`,
  );
  const GiB = size / 2 ** 30;
  console.log(
    `commit: verifying -> committed in ${commitSeconds.toFixed(1)} s; its activity (assemble, whole-file SHA-256 read back, copy, record) ` +
      `${activity.toFixed(1)} s = ${(activity / GiB).toFixed(1)} s/GiB`,
  );
  console.log(`bytes sent again: ${mb(resent)} MB over the file's ${mb(size)} MB (the parts in flight at the kill: ${mb(sentByFirst - heldAfterKill)} MB; headers included)`);
  console.log(
    `parts: ${result.parts} of ${partMiB ?? 64} MiB; in flight at the kill: ${inFlightAtKill.length} [${inFlightAtKill.join(' ')}]; ` +
      `re-sent by the second run: ${resentParts.length} [${resentParts.join(' ')}]; the second run sent ${startedBySecond.length} part requests`,
  );
  console.log(`upload: ${uploadMiBps.toFixed(1)} MiB/s (${uploadMBps.toFixed(1)} MB/s) while sending (${(relay.sendingMs() / 1000).toFixed(1)} s in all)`);
  console.log(`host RSS: ${rssBefore} MiB before, ${rssMax} MiB at most during the upload: +${rssMax - rssBefore} MiB`);

  // Ingestion to the end, then every row compared with the file.
  // From the commit: the BlobCreated event starts ingestion as soon as the file is stored.
  const ingestStart = committedAt ?? Date.now();
  let status = '';
  for (;;) {
    const { rows: [row] } = await pool.query<{ status: string }>('SELECT status FROM bulkflow.uploads WHERE upload_id = $1', [result.uploadId]);
    status = row?.status ?? '';
    if (row && isFinal(row.status as never)) break;
    await sleep(1000);
  }
  const ingestSeconds = (Date.now() - ingestStart) / 1000;
  const [stored, expected] = await Promise.all([
    pool.query<{ n: string; digest: string }>(ROW_DIGEST_SQL, [result.uploadId]).then(({ rows: [row] }) => ({ n: BigInt(row!.n), digest: BigInt(row!.digest) })),
    fileDigest(file),
  ]);
  const exact = status === 'complete' && stored.n === expected.n && stored.digest === expected.digest;

  console.log(`ingest: ${status} in ${ingestSeconds.toFixed(1)} s; rows ${stored.n} of ${expected.n}, digest ${stored.digest === expected.digest ? 'equal' : 'DIFFERENT'}`);
  console.log(
    `bench:resume rows=${rows} bytes=${size} resent_bytes=${resent} resumed_bytes=${result.resumedBytes} run2_upload_bytes=${result.uploadBytes} ` +
      `parts=${result.parts} parts_in_flight_at_kill=${inFlightAtKill.length} parts_resent=${resentParts.length} ` +
      `host_rss_before_mib=${rssBefore} host_rss_peak_mib=${rssMax} host_rss_growth_mib=${rssMax - rssBefore} upload_mib_s=${uploadMiBps.toFixed(1)} ` +
      `commit_s=${commitSeconds.toFixed(1)} commit_activity_s_per_gib=${(activity / GiB).toFixed(1)} ingest_s=${ingestSeconds.toFixed(1)} load=${loadavg().map((l) => l.toFixed(1)).join('/')} rows_exact=${exact}`,
  );
  const resentOnlyInFlight = resentParts.every((n) => inFlightAtKill.includes(n)) && new Set(resentParts).size === resentParts.length;
  if (!exact || result.uploadBytes !== size - result.resumedBytes || !resentOnlyInFlight) process.exitCode = 1;
} finally {
  relay?.server.close();
  await stack?.stop();
  await database.drop();
  await postgres.stop();
  await rm(stackDir, { recursive: true, force: true });
  if (!process.argv.includes('--keep-file')) await rm(file, { force: true });
}
