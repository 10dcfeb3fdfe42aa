import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import pg from 'pg';
import {
  activateUpload, cleanupUploads, commitChunk, fileByteSource, getUpload, listRowErrors, migrate, packageRoot, planUpload,
  registerUpload,
} from '../engine/index.js';
import { resolvePostgres } from '../local/embeddedPostgres.js';

const CONCURRENCY = 2;

/**
 * `bulkflow demo [file.csv]`: ingests a participants CSV (default: the bundled sample) into PostgreSQL
 * (embedded, data in .data/postgres, unless DATABASE_URL is set) through the engine, with progress.
 * Each run is a new upload of state EX; the previous one is superseded and cleaned up.
 */
export async function run(args: string[]): Promise<number> {
  const path = args[0] ? resolve(args[0]) : join(packageRoot(), 'samples', 'participants-sample.csv');
  const postgres = await resolvePostgres({ dataDir: join(packageRoot(), '.data', 'postgres'), persistent: true });
  const pool = new pg.Pool({ connectionString: postgres.url, max: CONCURRENCY + 1 });
  pool.on('error', () => {}); // an idle connection dropped by the server is replaced on next use
  try {
    await migrate(postgres.url);
    const source = fileByteSource(path);
    const digest = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
    const started = Date.now();
    const { uploadId } = await registerUpload(pool, { state: 'EX', source: `demo/${path.split('/').pop()}`, etag: `${digest}-${started}` });
    const planned = await planUpload(pool, uploadId, source);
    if (!planned.ok) {
      console.error(`upload ${uploadId} rejected: ${planned.error.code}: ${planned.error.message}`);
      return 1;
    }
    const { plan } = planned;
    for (const warning of plan.warnings) console.error(`warning: ${warning.code} ${warning.column}`);
    const bar = new cliProgress.SingleBar(
      { format: 'ingest {bar} {percentage}% | {value}/{total} rows | {speed} rows/s | rejected {rejected}', stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(plan.rowsTotal, 0, { speed: 0, rejected: 0 });
    let done = 0;
    let rejected = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < plan.chunks.length) {
          const chunk = plan.chunks[next++]!;
          const result = await commitChunk(pool, { uploadId, chunkNo: chunk.chunkNo }, source);
          done += result.rowsCommitted + result.rowsRejected;
          rejected += result.rowsRejected;
          bar.update(done, { speed: Math.round(done / ((Date.now() - started) / 1000)), rejected });
        }
      }),
    );
    bar.stop();
    const activation = await activateUpload(pool, uploadId);
    const seconds = (Date.now() - started) / 1000;
    const upload = await getUpload(pool, uploadId);
    const { errors } = await listRowErrors(pool, uploadId, { limit: 10 });
    console.log(`upload ${uploadId}: ${activation.status}${activation.errorMessage ? ` (${activation.errorMessage})` : ''}`);
    console.log(`rows: ${activation.rowsTotal} total, ${activation.rowsCommitted} committed, ${activation.rowsRejected} rejected`);
    console.log(`rejected by reason: ${Object.entries(upload?.errorCounts ?? {}).map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}`);
    if (errors.length > 0) {
      console.log('first errors:');
      for (const error of errors) console.log(`  line ${error.line}${error.column ? `, ${error.column}` : ''}: ${error.message}`);
    }
    console.log(`time: ${seconds.toFixed(2)} s, ${Math.round(activation.rowsTotal / seconds)} rows/s`);
    const cleaned = await cleanupUploads(pool, { retentionMs: 0 });
    if (cleaned.cleaned.length > 0) console.log(`cleaned up ${cleaned.cleaned.length} superseded upload(s)`);
    return activation.status === 'complete' ? 0 : 1;
  } finally {
    await pool.end();
    await postgres.stop();
  }
}
