import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { useFaultStack, type FaultStack } from '../support/faultStack.js';
import { waitFor } from '../support/localStack.js';
import { finalStatus, hashOf } from '../support/uploads.js';
import { expectIngestedOnce } from './expectations.js';

const ROWS = 100_000;

async function progress(t: FaultStack, blobName: string): Promise<UploadStatusBody | undefined> {
  const response = await t.api(`/api/uploads?blob=${encodeURIComponent(`uploads/${blobName}`)}`).catch(() => undefined);
  return response?.ok ? ((await response.json()) as UploadStatusBody) : undefined;
}

describe('host SIGKILLed in the middle of a fan-out', () => {
  const t = useFaultStack({ INGEST_CHUNK_BYTES: String(256 * 1024), INGEST_MAX_CHUNKS_IN_FLIGHT: '4' });

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

  it('a consumer that dies before checkpointing reprocesses the completion events idempotently', async () => {
    const csv = (from: number) => `lds_hash,participant_id\n${Array.from({ length: 40 }, (_, i) => `${hashOf(from + i)},P${i}`).join('\n')}\n`;
    await t.uploads.getBlockBlobClient('kt/a.csv').upload(csv(0), csv(0).length);
    await t.uploads.getBlockBlobClient('ku/a.csv').upload(csv(20), csv(20).length);
    const uploads = [await finalStatus(t, 'kt/a.csv'), await finalStatus(t, 'ku/a.csv')];
    const runs = async () => (await t.pool.query('SELECT event_id, upload_id, outcome, results FROM bulkflow.match_runs ORDER BY event_id')).rows;
    // Every completed upload so far (the first test's too) must have its run before the snapshot, or a late
    // first delivery would look like a replay changing something.
    const before = await waitFor('match runs of every completed upload', async () => {
      const all = await runs();
      const { rows: complete } = await t.pool.query<{ upload_id: string }>(`SELECT upload_id FROM bulkflow.uploads WHERE status = 'complete'`);
      const done = [...complete.map((u) => u.upload_id), ...uploads.map((u) => u.uploadId)];
      return done.every((id) => all.some((r) => r.upload_id === id)) ? all : undefined;
    }, 180_000); // after the first test's kill, the new consumer waits for the dead owner's partition claims to expire

    // A run is stored before its batch is checkpointed (the handler also sends the run's announcements first).
    const store = BlobServiceClient.fromConnectionString(t.stack.settings.AzureWebJobsStorage!).getContainerClient('azure-webjobs-eventhub');
    const checkpointed = async () => {
      for await (const blob of store.listBlobsFlat()) if (blob.name.includes('/checkpoint/')) return true;
      return undefined;
    };
    await waitFor('the consumer to checkpoint', checkpointed, 60_000);

    // Crash, and lose every checkpoint (and the dead owner's partition claims): all events are delivered again.
    await t.killHost();
    const names: string[] = [];
    for await (const blob of store.listBlobsFlat()) names.push(blob.name);
    expect(names.some((name) => name.includes('/checkpoint/'))).toBe(true);
    for (const name of names) await store.deleteBlob(name);
    await t.startHost();

    await waitFor('the consumer to checkpoint again', checkpointed, 120_000);
    expect(await runs()).toEqual(before);
    const rows = await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE state IN ('KT', 'KU')`);
    expect(rows.rows[0]!.n).toBe(80);
  }, 300_000);
});
