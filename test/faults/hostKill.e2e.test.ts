import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import type { UploadStatusBody } from '../../src/functions/statusView.js';
import { startFaultStack, type FaultStack } from '../support/faultStack.js';
import { waitFor } from '../support/localStack.js';
import { finalStatus } from '../support/uploads.js';
import { expectIngestedOnce } from './expectations.js';

const ROWS = 100_000;

async function progress(t: FaultStack, blobName: string): Promise<UploadStatusBody | undefined> {
  const response = await fetch(`${t.url}/api/uploads?blob=${encodeURIComponent(`uploads/${blobName}`)}`).catch(() => undefined);
  return response?.ok ? ((await response.json()) as UploadStatusBody) : undefined;
}

describe('host SIGKILLed in the middle of a fan-out', () => {
  let t: FaultStack;
  beforeAll(async () => {
    t = await startFaultStack({ INGEST_CHUNK_BYTES: String(256 * 1024), INGEST_MAX_CHUNKS_IN_FLIGHT: '4' });
  });
  afterAll(async () => t?.stop());

  it('restarts and completes: valid rows once, one upload row, one completion event', async () => {
    const file = join(t.stack.dataDir, 'kill.csv');
    const generated = await generateParticipantsCsv(file, { rows: ROWS, badShare: 0.01, seed: 3, badKinds: ['lds_hash_format', 'boolean_invalid'] });
    await t.uploads.getBlockBlobClient('ks/big.csv').uploadFile(file);

    const midway = await waitFor('some chunks committed', async () => {
      const status = await progress(t, 'ks/big.csv');
      return status && status.chunksDone >= 3 ? status : undefined;
    }, 120_000);
    expect(midway.status).toBe('running');
    expect(midway.chunksDone).toBeLessThan(midway.chunksTotal);
    await t.killHost();
    await t.startHost();

    const status = await finalStatus(t, 'ks/big.csv', { timeoutMs: 240_000 });
    await expectIngestedOnce(t, status, ROWS - generated.badRows);
    expect(status.rowsRejected).toBe(generated.badRows);
    const ledger = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.chunk_ledger WHERE upload_id = $1', [status.uploadId]);
    expect(ledger.rows[0]!.n).toBe(status.chunksTotal);
  }, 400_000);
});
