import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import pg from 'pg';
import { uploadIdOf } from '../src/engine/index.js';
import { appPackagePath } from '../local/src/packageRoot.js';
import { startLocalStack } from '../local/src/stack.js';
import { HEADER, mulberry32 } from './generate.js';
import { memory, resetPeak } from './processMemory.js';
import { cpuSnapshot, load1, partsDelta, type CpuSnapshot } from './stats.js';

/**
 * `npm run bench:national [-- --scale F] [--overlap S] [--keep-files | --generate-only]`: the national caseload
 * through the product's own path (--keep-files keeps the generated files under .data for the next run of the same
 * scale and overlap; --generate-only writes them and stops, so they need not be made while the machine is held). The 53
 * SNAP jurisdictions at their real relative sizes (JURISDICTIONS; F = 1 is ~42M rows) are loaded from empty (each
 * file a blob upload: Event Grid -> orchestration -> activation -> completion event -> match analysis), then the
 * largest re-uploads its whole caseload with some of its matches gone. Prints
 * `national: rows= load_s= reupload_s= match_s= host_rss=` and fails unless every state is active and matched and the
 * open match records equal a brute-force count of the hashes the active uploads share, pair by pair.
 *
 * - load_s: the first blob upload started -> every upload active and its match run stored.
 * - reupload_s: the re-upload's blob uploaded -> it is active and its match run stored; match_s: the part after active.
 * - host_rss: the Functions host's peak resident memory over the whole run.
 */

/**
 * Average monthly SNAP participants by jurisdiction, in thousands: USDA FNS "SNAP Data Tables", fiscal year 2023,
 * rounded (50 states, DC, Guam, the US Virgin Islands; 42.2M in all). Only the relative sizes matter here.
 */
export const JURISDICTIONS: ReadonlyArray<readonly [string, number]> = [
  ['AK', 72], ['AL', 745], ['AR', 243], ['AZ', 905], ['CA', 5400], ['CO', 600], ['CT', 398], ['DC', 139], ['DE', 120],
  ['FL', 3000], ['GA', 1450], ['GU', 45], ['HI', 165], ['IA', 280], ['ID', 133], ['IL', 1990], ['IN', 597], ['KS', 188],
  ['KY', 570], ['LA', 870], ['MA', 1050], ['MD', 690], ['ME', 168], ['MI', 1400], ['MN', 445], ['MO', 650], ['MS', 385],
  ['MT', 80], ['NC', 1450], ['ND', 47], ['NE', 155], ['NH', 72], ['NJ', 800], ['NM', 470], ['NV', 480], ['NY', 2900],
  ['OH', 1450], ['OK', 690], ['OR', 760], ['PA', 2000], ['RI', 145], ['SC', 580], ['SD', 75], ['TN', 850], ['TX', 3400],
  ['UT', 165], ['VA', 900], ['VI', 25], ['VT', 65], ['WA', 900], ['WI', 700], ['WV', 320], ['WY', 27],
];

/** Disk per row while the run lasts: the CSV, its blob in storage, the table with its indexes, WAL (measured ~0.9 KB). */
const DISK_BYTES_PER_ROW = 1000;

interface StateFile {
  state: string;
  rows: number;
  /** The hashes this file shares with each other state (by construction). */
  shared: Map<string, number>;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Hashes shared by the pair {a, b}: `overlap` of the smaller state's rows, spread over its 52 partners. */
function pairShare(rowsOf: Map<string, number>, overlap: number, a: string, b: string): number {
  return Math.floor((overlap * Math.min(rowsOf.get(a)!, rowsOf.get(b)!)) / (JURISDICTIONS.length - 1));
}

/**
 * Writes one state's caseload: for each other state (in table order) its block of shared hashes (SHA-512 of the pair
 * and an index, so both states write the same ones), then hashes of its own. `dropped`: partners whose shared block
 * is replaced by hashes of its own (a re-upload in which those people left).
 */
async function writeCaseload(path: string, state: string, rows: number, sharedWith: Map<string, number>, variant: number, dropped: Set<string>): Promise<void> {
  const out = createWriteStream(path);
  const random = mulberry32(JURISDICTIONS.findIndex(([code]) => code === state) * 7919 + variant * 104729 + 1);
  // Hashes of its own: 64 random bytes each, drawn in blocks. Not from the seeded stream: its 32-bit state repeats
  // across states' streams at national scale (a chance shared hash the count by construction would not know), and
  // building them 32 bits at a time was most of the generation time.
  const pool = Buffer.alloc(64 * 16_384);
  let used = pool.length;
  const own = () => {
    if (used === pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    used += 64;
    return pool.toString('hex', used - 64, used);
  };
  const blocks = [...sharedWith].filter(([, n]) => n > 0);
  let block = 0;
  let inBlock = 0;
  let batch = `${HEADER}\n`;
  for (let i = 0; i < rows; i++) {
    let hash: string;
    if (block < blocks.length) {
      const [other, n] = blocks[block]!;
      const [a, b] = state < other ? [state, other] : [other, state];
      hash = dropped.has(other) ? own() : createHash('sha512').update(`pair:${a}${b}:${inBlock}`).digest('hex');
      if (++inBlock === n) {
        block++;
        inBlock = 0;
      }
    } else hash = own();
    const r = random();
    const month = 1 + (r % 9);
    const closing = r % 10 < 3 ? `2025-${String(1 + (r % 12)).padStart(2, '0')}-15` : '';
    const issuance = Array.from({ length: r % 4 }, (_, k) => `2025-${month + k}-1/2025-${month + k}-28`).join(' ');
    batch += `${hash},C${state}${i >>> 2},${state}-${i},${closing},${issuance},${['true', 'false', ''][r % 3]}\n`;
    if (batch.length > 1 << 20) {
      if (!out.write(batch)) await once(out, 'drain');
      batch = '';
    }
  }
  out.end(batch);
  await once(out, 'finish');
}

interface Upload {
  state: string;
  uploadId: string;
  uploadedAt: number;
}

/** Uploads a file as a state's blob; the file is removed after (the disk holds the database too) unless `keep`. */
async function upload(container: ContainerClient, path: string, state: string, name: string, keep: boolean): Promise<Upload> {
  const blobName = `${state.toLowerCase()}/${name}`;
  const result = await container.getBlockBlobClient(blobName).uploadFile(path, { blockSize: 8 << 20, concurrency: 2 });
  if (!keep) await rm(path, { force: true });
  return { state, uploadId: uploadIdOf({ state, container: container.containerName, blobName, etag: result.etag! }), uploadedAt: Date.now() };
}

/** Polls until every upload is active and matched (throws when one fails); when each became active and matched (epoch ms). */
async function follow(db: pg.Pool, uploads: Upload[], timeoutMs: number): Promise<Map<string, { finalAt: number; matchedAt: number }>> {
  const seen = new Map<string, { finalAt: number; matchedAt: number }>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < uploads.length || [...seen.values()].some((s) => !s.matchedAt)) {
    if (Date.now() > deadline) throw new Error(`national: ${uploads.length - seen.size} uploads not final after ${timeoutMs / 1000} s`);
    const { rows } = await db.query<{ upload_id: string; status: string; matched: boolean }>(
      `SELECT u.upload_id, u.status, EXISTS (SELECT 1 FROM bulkflow.match_runs r WHERE r.upload_id = u.upload_id) AS matched
       FROM bulkflow.uploads u WHERE u.upload_id = ANY($1)`,
      [uploads.map((u) => u.uploadId)],
    );
    const now = Date.now();
    for (const row of rows) {
      if (['failed', 'superseded'].includes(row.status)) throw new Error(`national: upload ${row.upload_id} ended ${row.status}`);
      if (row.status !== 'complete') continue;
      const known = seen.get(row.upload_id) ?? { finalAt: now, matchedAt: 0 };
      if (row.matched && !known.matchedAt) known.matchedAt = now;
      seen.set(row.upload_id, known);
    }
    await sleep(250);
  }
  return seen;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      overlap: { type: 'string', default: '0.01' },
      'timeout-min': { type: 'string', default: '180' },
      'keep-files': { type: 'boolean', default: false },
      'generate-only': { type: 'boolean', default: false },
    },
  });
  const scale = Number(values.scale);
  const overlap = Number(values.overlap);
  if (!(scale > 0) || !(overlap >= 0 && overlap <= 0.5)) throw new Error('--scale needs a number above 0, --overlap one in 0..0.5');
  const rowsOf = new Map(JURISDICTIONS.map(([state, thousands]) => [state, Math.max(100, Math.round(thousands * 1000 * scale))]));
  const total = [...rowsOf.values()].reduce((sum, n) => sum + n, 0);
  const largest = [...rowsOf].sort((x, y) => y[1] - x[1])[0]![0];
  const files: StateFile[] = JURISDICTIONS.map(([state]) => ({
    state,
    rows: rowsOf.get(state)!,
    shared: new Map(JURISDICTIONS.filter(([other]) => other !== state).map(([other]) => [other, pairShare(rowsOf, overlap, state, other)])),
  }));
  // The re-upload no longer holds what it shared with every fifth partner: those records close.
  const dropped = new Set([...files.find((f) => f.state === largest)!.shared.keys()].filter((_, i) => i % 5 === 0));
  const expected = (without: Set<string>) => {
    let pairs = 0;
    for (const f of files) for (const [other, n] of f.shared) if (f.state < other && !(f.state === largest ? without.has(other) : other === largest && without.has(f.state))) pairs += n;
    return pairs;
  };

  const root = appPackagePath();
  await mkdir(join(root, '.data'), { recursive: true });
  const disk = await statfs(join(root, '.data'));
  const free = disk.bavail * disk.bsize;
  const needed = (total + rowsOf.get(largest)!) * DISK_BYTES_PER_ROW;
  console.log(`national: ${total.toLocaleString('en-US')} rows in ${files.length} jurisdictions (scale ${scale}), ${expected(new Set()).toLocaleString('en-US')} shared pair hashes; ` +
    `disk: ${(free / 1e9).toFixed(1)} GB free, about ${(needed / 1e9).toFixed(1)} GB needed`);
  if (free < needed) {
    console.error(`national: not enough free disk under ${join(root, '.data')}: ${(free / 1e9).toFixed(1)} GB free, about ${(needed / 1e9).toFixed(1)} GB needed; use a smaller --scale`);
    process.exitCode = 1;
    return;
  }
  const dataDir = await mkdtemp(join(root, '.data', 'national-'));
  const stack = await startLocalStack({
    appDir: root, dataDir, port: 0, eventHubsPort: 0, persistent: false, logLevel: 'warning', hostProcess: true,
    settings: { API_RATE_LIMIT_PER_MINUTE: '1000000' },
  });
  const db = new pg.Pool({ connectionString: stack.settings.DATABASE_URL, max: 2 });
  try {
    const container = BlobServiceClient.fromConnectionString(stack.settings.UploadStorage!).getContainerClient('uploads');
    await container.createIfNotExists();
    // Generated before the clock starts: the files stand for what states have ready when they upload. With
    // --keep-files they are kept for the next run of the same scale and overlap (the generation is deterministic).
    let t0 = Date.now();
    const keep = values['keep-files'] || values['generate-only'];
    const filesDir = keep ? join(root, '.data', `national-files-${scale}-${overlap}`) : dataDir;
    const paths = new Map(files.map((f) => [f.state, join(filesDir, `${f.state}-1.csv`)]));
    const reuploadPath = join(filesDir, `${largest}-2.csv`);
    const generated = join(filesDir, 'generated');
    if (existsSync(generated)) {
      console.log(`files of an earlier run reused from ${filesDir}`);
    } else {
      await mkdir(filesDir, { recursive: true });
      for (const f of files) await writeCaseload(paths.get(f.state)!, f.state, f.rows, f.shared, 1, new Set());
      await writeCaseload(reuploadPath, largest, rowsOf.get(largest)!, files.find((f) => f.state === largest)!.shared, 2, dropped);
      await writeFile(generated, '');
      console.log(`generated in ${((Date.now() - t0) / 1000).toFixed(0)} s; load average ${load1().toFixed(1)}`);
    }
    if (values['generate-only']) return;

    // From empty: every state uploads, largest first, four blob uploads at a time.
    await resetPeak(stack.hostPid);
    t0 = Date.now();
    const cpuStart = cpuSnapshot(stack.hostPid);
    const queue = [...files].sort((x, y) => y.rows - x.rows);
    const uploads: Upload[] = [];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) uploads.push(await upload(container, paths.get(f.state)!, f.state, 'caseload-1.csv', keep));
    }));
    const loaded = await follow(db, uploads, Number(values['timeout-min']) * 60_000);
    const loadSeconds = (Math.max(...[...loaded.values()].map((s) => s.matchedAt || s.finalAt)) - t0) / 1000;
    const cpuLoaded = cpuSnapshot(stack.hostPid);
    await phases(db, uploads, loaded, t0, 'load');
    printCpu('load', cpuStart, cpuLoaded);
    await verify(db, uploads, expected(new Set()), 'load');
    console.log(`load: ${loadSeconds.toFixed(1)} s; load average ${load1().toFixed(1)}`);

    // The largest re-uploads its caseload.
    const again = await upload(container, reuploadPath, largest, 'caseload-2.csv', keep);
    const cpuReupload = cpuSnapshot(stack.hostPid);
    const followed = await follow(db, [again], Number(values['timeout-min']) * 60_000);
    printCpu('re-upload', cpuReupload, cpuSnapshot(stack.hostPid));
    await phases(db, [again], followed, again.uploadedAt, 're-upload');
    const [reupload] = followed.values();
    const reuploadSeconds = (reupload!.matchedAt - again.uploadedAt) / 1000;
    const matchSeconds = (reupload!.matchedAt - reupload!.finalAt) / 1000;
    await verify(db, [...uploads.filter((u) => u.state !== largest), again], expected(dropped), 're-upload');
    const host = await memory(stack.hostPid);
    console.log(`national: rows=${total} load_s=${loadSeconds.toFixed(1)} reupload_s=${reuploadSeconds.toFixed(1)} match_s=${matchSeconds.toFixed(1)} host_rss=${host.peakMiB ?? '?'} MiB`);
  } finally {
    await db.end();
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Where the time went, from the database's own timestamps (seconds after `t0`): per upload, its blob uploaded, its
 * orchestration registered it, planned, finalized (duplicates, indexes), active, its match run started, and matched
 * (seen by the poll); then the sums over uploads of each step.
 */
async function phases(db: pg.Pool, uploads: Upload[], seen: Map<string, { finalAt: number; matchedAt: number }>, t0: number, phase: string): Promise<void> {
  const { rows } = await db.query<{ upload_id: string; rows: string; registered: number; planned: number; first_commit: number; last_commit: number; finalized: number; completed: number; match_start: number | null }>(
    `SELECT u.upload_id, u.rows_total AS rows,
            extract(epoch FROM u.registered_at) * 1000 AS registered, extract(epoch FROM u.planned_at) * 1000 AS planned,
            extract(epoch FROM l.first) * 1000 AS first_commit, extract(epoch FROM l.last) * 1000 AS last_commit,
            extract(epoch FROM u.finalized_at) * 1000 AS finalized, extract(epoch FROM u.completed_at) * 1000 AS completed,
            extract(epoch FROM (SELECT min(r.computed_at) FROM bulkflow.match_runs r WHERE r.upload_id = u.upload_id)) * 1000 AS match_start
     FROM bulkflow.uploads u
     JOIN LATERAL (SELECT min(committed_at) AS first, max(committed_at) AS last FROM bulkflow.chunk_ledger c WHERE c.upload_id = u.upload_id) l ON true
     WHERE u.upload_id = ANY($1)`,
    [uploads.map((u) => u.uploadId)],
  );
  const byId = new Map(rows.map((row) => [row.upload_id, row]));
  const at = (ms: number | null) => (ms === null ? '?' : ((Number(ms) - t0) / 1000).toFixed(1));
  const sums = { event: 0, commit: 0, activate: 0, matchWait: 0, match: 0 };
  console.log(`${phase} phases (s after start): state rows uploaded registered planned last_commit finalized active match_start matched`);
  for (const u of uploads) {
    const row = byId.get(u.uploadId)!;
    const { matchedAt } = seen.get(u.uploadId)!;
    sums.event += (Number(row.registered) - u.uploadedAt) / 1000;
    sums.commit += (Number(row.last_commit) - Number(row.registered)) / 1000;
    sums.activate += (Number(row.completed) - Number(row.last_commit)) / 1000;
    sums.matchWait += (Number(row.match_start) - Number(row.completed)) / 1000;
    sums.match += (matchedAt - Number(row.match_start)) / 1000;
    console.log(`  ${u.state} ${row.rows} ${at(u.uploadedAt)} ${at(row.registered)} ${at(row.planned)} ${at(row.last_commit)} ${at(row.finalized)} ${at(row.completed)} ${at(row.match_start)} ${at(matchedAt)}`);
  }
  console.log(`${phase} sums over uploads (s): ${Object.entries(sums).map(([k, v]) => `${k}=${v.toFixed(1)}`).join(' ')}`);
}

function printCpu(phase: string, from: CpuSnapshot, to: CpuSnapshot): void {
  const wall = to.at - from.at;
  const parts = partsDelta(from, to);
  console.log(`${phase} cpu (s over ${wall.toFixed(0)} s wall): ${Object.entries(parts).map(([k, v]) => `${k}=${v.toFixed(0)}`).join(' ')}, machine ${(to.machine - from.machine).toFixed(0)}`);
}

/**
 * Every state's upload active and matched, and the open match records, pair by pair, equal to a brute-force count of
 * the hashes the active uploads share (and to the count by construction).
 */
async function verify(db: pg.Pool, uploads: Upload[], expected: number, phase: string): Promise<void> {
  const problems: string[] = [];
  const { rows: active } = await db.query<{ state: string; upload_id: string; matched: boolean }>(
    `SELECT a.state, a.upload_id, EXISTS (SELECT 1 FROM bulkflow.match_runs r WHERE r.upload_id = a.upload_id AND r.outcome = 'matched') AS matched
     FROM bulkflow.active_uploads a`,
  );
  const activeOf = new Map(active.map((row) => [row.state, row]));
  for (const u of uploads) {
    const row = activeOf.get(u.state);
    if (row?.upload_id !== u.uploadId) problems.push(`${u.state} is not active`);
    else if (!row.matched) problems.push(`${u.state} has no match run`);
  }
  // Brute force: every hash held by two or more states' active uploads, once per pair of those states, beside the open
  // records: the ones only one side has.
  const { rows: [counts] } = await db.query<{ pairs: string; open: string; missing: string; extra: string }>(
    `WITH shared AS (
       SELECT lds_hash, array_agg(DISTINCT state ORDER BY state) AS states FROM bulkflow.active_participants
       GROUP BY lds_hash HAVING count(DISTINCT state) > 1
     ),
     pairs AS (
       SELECT s.states[i] AS a, s.states[j] AS b, s.lds_hash
       FROM shared s, generate_subscripts(s.states, 1) i, generate_subscripts(s.states, 1) j WHERE i < j
     ),
     open AS (SELECT state_a AS a, state_b AS b, lds_hash FROM bulkflow.matches WHERE closed_at IS NULL)
     SELECT (SELECT count(*) FROM pairs) AS pairs, (SELECT count(*) FROM open) AS open,
            (SELECT count(*) FROM pairs p WHERE NOT EXISTS (SELECT 1 FROM open o WHERE (o.a, o.b, o.lds_hash) = (p.a, p.b, p.lds_hash))) AS missing,
            (SELECT count(*) FROM open o WHERE NOT EXISTS (SELECT 1 FROM pairs p WHERE (o.a, o.b, o.lds_hash) = (p.a, p.b, p.lds_hash))) AS extra`,
  );
  const brute = { pairs: counts!.pairs };
  const open = { n: counts!.open };
  if (Number(brute!.pairs) !== expected) problems.push(`brute force finds ${brute!.pairs} shared pair hashes, the files hold ${expected}`);
  if (Number(open!.n) !== Number(brute!.pairs)) problems.push(`${open!.n} open match records, brute force ${brute!.pairs}`);
  if (Number(counts!.missing) + Number(counts!.extra) > 0) problems.push(`${counts!.missing} shared pair hashes without an open record, ${counts!.extra} open records without one`);
  console.log(`${phase}: ${active.length} active, ${open!.n} open match records, brute force ${brute!.pairs}, by construction ${expected}`);
  if (problems.length > 0) throw new Error(`national ${phase}: ${problems.join('; ')}`);
}

await main();
