import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { reported } from '../../src/activities/activateUploadActivity.js';
import { blobSource, failUpload, registerUpload } from '../../src/engine/index.js';
import { OPS_LOG, opsWarnings, readOpsSignals } from '../../src/engine/opsSignals.js';
import { OUTBOX_BEHIND_MINUTES, STALLED_AFTER_MINUTES, UNMATCHED_AFTER_MINUTES } from '../../src/functions/operationsProbe.js';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { CSV_HEADER, validRows } from '../support/uploads.js';

/**
 * The local scenarios behind the alerts (infra/bicep/modules/alerts.bicep): each produces the log line its alert
 * queries, on a real database; nothing is logged while all is well.
 */
describe('the operations signals', () => {
  const engine = useEngineDatabase();
  const limits = { stalledAfterMinutes: STALLED_AFTER_MINUTES, unmatchedAfterMinutes: UNMATCHED_AFTER_MINUTES };
  const warnings = async () => opsWarnings(await readOpsSignals(engine.pool, limits), OUTBOX_BEHIND_MINUTES);
  const age = (sql: string, values: unknown[]) => engine.pool.query(sql, values);

  it('stay quiet for a fresh upload, a just-completed one and a new outbox event', async () => {
    await registerUpload(engine.pool, { state: 'NV', source: blobSource('uploads', 'nv/fresh.csv'), etag: '"1"' });
    await ingest(engine.pool, `${CSV_HEADER}\n${validRows(0, 10)}`, { state: 'NV', source: blobSource('uploads', 'nv/done.csv') });
    expect(await warnings()).toEqual([]);
  });

  it('name an upload with no step for 30 minutes (stuck upload)', async () => {
    const { uploadId } = await registerUpload(engine.pool, { state: 'CA', source: blobSource('uploads', 'ca/stuck.csv'), etag: '"1"' });
    await age(`UPDATE bulkflow.uploads SET registered_at = now() - interval '31 minutes' WHERE upload_id = $1`, [uploadId]);
    expect(await warnings()).toContainEqual(expect.stringMatching(new RegExp(`^${OPS_LOG.uploadStalled} upload=${uploadId} state=CA idle_minutes=3[01]$`)));
  });

  it('report the oldest outbox event undelivered for 10 minutes (unpublished outbox event)', async () => {
    await age(`UPDATE bulkflow.outbox SET time = now() - interval '12 minutes' WHERE published_at IS NULL`, []);
    const pending = (await engine.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.outbox WHERE published_at IS NULL')).rows[0]!.n;
    expect(pending).toBeGreaterThan(0);
    expect(await warnings()).toContainEqual(`${OPS_LOG.outboxBehind} pending=${pending} oldest_minutes=12`);
  });

  it('name an active upload with no match run 15 minutes after it completed (match analysis behind)', async () => {
    const { uploadId } = await ingest(engine.pool, `${CSV_HEADER}\n${validRows(0, 20)}`, { state: 'TX', source: blobSource('uploads', 'tx/unmatched.csv') });
    await age(`UPDATE bulkflow.uploads SET completed_at = now() - interval '20 minutes' WHERE upload_id = $1`, [uploadId]);
    expect(await warnings()).toContainEqual(expect.stringMatching(new RegExp(`^${OPS_LOG.matchAnalysisBehind} upload=${uploadId} state=TX minutes=(19|20)$`)));
  });

  it('write the upload-failed warning when an activity fails an upload (failed upload)', async () => {
    const { uploadId } = await registerUpload(engine.pool, { state: 'OR', source: blobSource('uploads', 'or/bad.csv'), etag: '"1"' });
    const logged: string[] = [];
    const context = new InvocationContext({ functionName: 'failUpload', logHandler: (level, ...args) => { if (level === 'warning') logged.push(args.join(' ')); } });
    const result = reported(context, uploadId, await failUpload(engine.pool, uploadId, { code: 'plan_failed', message: 'planning failed' }));
    expect(result.status).toBe('failed');
    expect(logged).toEqual([`${OPS_LOG.uploadFailed} upload=${uploadId} state=OR`]);
  });
});
