import { parseArgs } from 'node:util';
import pg from 'pg';
import { getUpload, instanceIdOf, listRowErrors, migrate, uploadRefOf } from '../../../src/engine/index.js';
import { resolvePostgres } from '../embeddedPostgres.js';
import { appPackagePath } from '../packageRoot.js';

/**
 * `bulkflow status ID [--json]`: an existing upload (id, instance id or blob name `uploads/ca/file.csv`),
 * read from PostgreSQL (`DATABASE_URL`, or the main job's embedded data in .data/postgres).
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  const id = positionals[0];
  if (!id) {
    console.error('usage: bulkflow status ID [--json]');
    return 2;
  }
  const postgres = await resolvePostgres({ dataDir: appPackagePath('.data', 'postgres'), persistent: true });
  const pool = new pg.Pool({ connectionString: postgres.url, max: 1 });
  try {
    await migrate(pool);
    const upload = await getUpload(pool, uploadRefOf(id));
    if (!upload) {
      console.error(`no upload ${id}`);
      return 1;
    }
    const { errors } = await listRowErrors(pool, upload.uploadId, { limit: 10 });
    const summary = {
      uploadId: upload.uploadId,
      instanceId: instanceIdOf(upload.uploadId),
      state: upload.state,
      status: upload.status,
      active: upload.active,
      rowsTotal: upload.rowsTotal,
      rowsCommitted: upload.rowsCommitted,
      rowsRejected: upload.rowsRejected,
      errors,
      error: upload.error,
      durationMs: (upload.completedAt ?? upload.failedAt) ? Date.parse((upload.completedAt ?? upload.failedAt)!) - Date.parse(upload.registeredAt) : null,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      console.log(`upload ${summary.uploadId} (${summary.state}, ${upload.source}): ${summary.status}${summary.active ? ', active' : ''}`);
      console.log(`  rows: ${summary.rowsCommitted} committed, ${summary.rowsRejected} rejected of ${summary.rowsTotal ?? '?'}`);
      if (upload.error) console.log(`  error: ${upload.error.code}: ${upload.error.message}`);
      for (const e of errors) console.log(`  line ${e.line}${e.column ? `, ${e.column}` : ''}: ${e.message} (${e.code})`);
    }
    return 0;
  } finally {
    await pool.end();
    await postgres.stop();
  }
}
