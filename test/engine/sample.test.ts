import { describe, expect, it } from 'vitest';
import { activateUpload, commitChunk, fileByteSource, getUpload, planUpload, registerUpload } from '../../src/engine/index.js';
import { useEngineDatabase } from '../support/engineDatabase.js';
import { fileURLToPath } from 'node:url';

describe('the bundled sample end to end', () => {
  const engine = useEngineDatabase();

  it('commits every row but the planted bad ones, whose errors name line, column and rule', async () => {
    const source = fileByteSource(fileURLToPath(new URL('../../samples/participants-sample.csv', import.meta.url)));
    const { uploadId } = await registerUpload(engine.pool, { state: 'ca', source: 'ca/participants.csv', etag: '"0x1"' });
    const planned = await planUpload(engine.pool, uploadId, source, { targetChunkBytes: 512 * 1024 });
    if (!planned.ok) throw new Error(planned.error.message);
    expect(planned.plan.rowsTotal).toBe(20000);
    expect(planned.plan.chunks.length).toBe(8);
    const results = await Promise.all(planned.plan.chunks.map((c) => commitChunk(engine.pool, { uploadId, chunkNo: c.chunkNo }, source)));
    expect(results.reduce((sum, r) => sum + r.rowsCommitted + r.rowsRejected, 0)).toBe(20000);
    const result = await activateUpload(engine.pool, uploadId);
    // The generator planted 48 bad rows (seed 7, share 0.002), one broken rule each.
    expect(result).toMatchObject({ status: 'complete', activated: true, rowsTotal: 20000, rowsCommitted: 19952, rowsRejected: 48 });
    const upload = await getUpload(engine.pool, { uploadId });
    expect(Object.values(upload!.errorCounts).reduce((a, b) => a + b, 0)).toBe(48);
    const visible = await engine.pool.query(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE state = 'CA'`);
    expect(visible.rows[0].n).toBe(19952);
  });
});
