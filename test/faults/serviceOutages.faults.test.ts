import { join } from 'node:path';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { useFaultStack, type FaultStack } from '../support/faultStack.js';
import { waitFor } from '../support/localStack.js';
import { finalStatus, hashOf } from '../support/uploads.js';
import { expectIngestedOnce } from './expectations.js';

const ROWS = 100_000;

async function midway(t: FaultStack, blobName: string): Promise<UploadStatusBody> {
  return waitFor(`${blobName}: some chunks committed`, async () => {
    const response = await t.api(`/api/uploads?blob=${encodeURIComponent(`uploads/${blobName}`)}`).catch(() => undefined);
    const status = response?.ok ? ((await response.json()) as UploadStatusBody) : undefined;
    return status && status.chunksDone >= 2 ? status : undefined;
  }, 120_000);
}

describe('services going away while chunks are read and committed', () => {
  const t = useFaultStack({ INGEST_CHUNK_BYTES: String(256 * 1024), INGEST_MAX_CHUNKS_IN_FLIGHT: '4' });
  let file: string;
  let validRows: number;
  beforeAll(async () => {
    file = join(t.stack.dataDir, 'outage.csv');
    const generated = await generateParticipantsCsv(file, { rows: ROWS, badShare: 0.01, seed: 5, badKinds: ['closing_date_invalid'] });
    validRows = ROWS - generated.badRows;
  });
  afterEach(({ task }) => {
    // What the host printed is the only trace of why it stopped answering.
    if (task.result?.state === 'fail') console.error(`host output (tail):\n${t.hostOutput().slice(-8000)}`);
  });

  it('PostgreSQL restarted in the middle of chunk commits: chunks retried, nothing duplicated or lost', async () => {
    await t.uploads.getBlockBlobClient('pr/big.csv').uploadFile(file);
    const during = await midway(t, 'pr/big.csv');
    expect(during.chunksDone).toBeLessThan(during.chunksTotal);
    await t.restartPostgres(3_000);
    const status = await finalStatus(t, 'pr/big.csv', { timeoutMs: 300_000 });
    await expectIngestedOnce(t, status, validRows);
  });

  it('Azurite unavailable for 30 s during chunk reads: retried, completes', async () => {
    await t.uploads.getBlockBlobClient('az/big.csv').uploadFile(file);
    const during = await midway(t, 'az/big.csv');
    expect(during.chunksDone).toBeLessThan(during.chunksTotal);
    await t.stopAzurite();
    await new Promise((done) => setTimeout(done, 30_000));
    await t.startAzurite();
    const status = await finalStatus(t, 'az/big.csv', { timeoutMs: 300_000 });
    await expectIngestedOnce(t, status, validRows);
  });
});

describe('Event Hubs endpoint down when an upload completes', () => {
  const t = useFaultStack();

  it('keeps the completion event in the outbox and delivers it once the endpoint is back', async () => {
    await t.stopEventHubs();
    const rows = 'lds_hash,participant_id\n' + Array.from({ length: 50 }, (_, i) => `${hashOf(i)},P${i}`).join('\n') + '\n';
    await t.uploads.getBlockBlobClient('eh/a.csv').upload(rows, rows.length);
    const status = await finalStatus(t, 'eh/a.csv');
    expect(status.status).toBe('complete');
    // Give the publisher a few attempts against the closed port.
    await new Promise((done) => setTimeout(done, 5_000));
    const pending = await t.pool.query('SELECT id FROM bulkflow.outbox WHERE published_at IS NULL');
    expect(pending.rows).toEqual([{ id: `${status.uploadId}.completed` }]);

    await t.startEventHubs();
    await expectIngestedOnce(t, status, 50);
    const consumer = new EventHubConsumerClient('$Default', t.stack.settings.EventHubConnection!, 'upload-events');
    const seen: string[] = [];
    const subscription = consumer.subscribe(
      {
        // Upload events only: the match run's announcement follows on the same hub.
        processEvents: async (events) => {
          for (const { body } of events as Array<{ body: { id: string; type: string } }>) if (body.type.startsWith('gov.bulkflow.upload.')) seen.push(body.id);
        },
        processError: async () => {},
      },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
    );
    await waitFor('the completion event on the hub', async () => (seen.length > 0 ? true : undefined), 60_000);
    await new Promise((done) => setTimeout(done, 2_000));
    await subscription.close();
    await consumer.close();
    expect(seen).toEqual([`${status.uploadId}.completed`]);
  });
});
