import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { useTestStack, waitFor } from '../support/localStack.js';

describe('global bound on chunk commits', () => {
  // One commit at a time across the whole app, while each upload's orchestrator schedules 4 per wave.
  const t = useTestStack({ INGEST_MAX_CONCURRENT_COMMITS: '1', INGEST_MAX_CHUNKS_IN_FLIGHT: '4', INGEST_CHUNK_BYTES: String(96 << 10) });

  it('completes two concurrent uploads exactly when commits beyond the bound are told to wait', async () => {
    const files = await Promise.all(['ga', 'al'].map(async (state, i) => {
      const file = join(t.stack.dataDir, `bound-${state}-${process.pid}.csv`);
      await generateParticipantsCsv(file, { rows: 3_000, seed: 30 + i });
      return { state, file };
    }));
    await Promise.all(files.map(({ state, file }) => t.uploads.getBlockBlobClient(`${state}/bound.csv`).uploadFile(file)));
    for (const { state } of files) {
      const status = await waitFor(`${state} upload`, async () => {
        const response = await t.api(`/api/uploads?blob=${state}/bound.csv`);
        const body = response.ok ? ((await response.json()) as UploadStatusBody) : undefined;
        return body && ['complete', 'failed'].includes(body.status) ? body : undefined;
      }, 120_000);
      expect(status).toMatchObject({ status: 'complete', rowsCommitted: 3_000, rowsRejected: 0 });
      expect(status.chunksTotal).toBeGreaterThan(4);
    }
    // The bound really engaged: some commits were answered "busy" and retried (durable history of the local host).
    const busy = await t.pool.query(`SELECT count(*)::int AS n FROM durable_testhub.history WHERE position('commit slots are in use' in event) > 0`);
    expect(busy.rows[0].n).toBeGreaterThan(0);
    const rows = await t.pool.query(
      `SELECT state, count(*)::int AS n, count(DISTINCT participant_id)::int AS d FROM bulkflow.active_participants GROUP BY state ORDER BY state`,
    );
    expect(rows.rows).toEqual([{ state: 'AL', n: 3_000, d: 3_000 }, { state: 'GA', n: 3_000, d: 3_000 }]);
  }, 180_000);
});
