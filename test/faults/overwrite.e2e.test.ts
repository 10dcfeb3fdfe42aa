import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import { isFinal } from '../../src/engine/index.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { useTestStack, waitFor } from '../support/localStack.js';
import { CSV_HEADER, activeRows, finalStatus, getJson, putBlob, validRows } from '../support/uploads.js';

describe('a blob overwritten while its upload runs', () => {
  const t = useTestStack({ INGEST_CHUNK_BYTES: String(128 * 1024), INGEST_MAX_CHUNKS_IN_FLIGHT: '2' });

  it('never lets the older upload become active over the newer one', async () => {
    const file = join(t.stack.dataDir, 'overwrite.csv');
    await generateParticipantsCsv(file, { rows: 60_000, seed: 9 });
    const blob = t.uploads.getBlockBlobClient('ut/x.csv');
    const first = await blob.uploadFile(file);
    const older = await waitFor('the first upload to be running', async () => {
      const response = await t.api(`/api/uploads?blob=${encodeURIComponent('uploads/ut/x.csv')}`);
      const body = response.ok ? ((await response.json()) as UploadStatusBody) : undefined;
      return body && body.status === 'running' && body.chunksDone >= 1 ? body : undefined;
    });
    expect(older.chunksDone).toBeLessThan(older.chunksTotal);

    // Overwrite with a small file (new eTag): it finishes long before the older, bigger one.
    const second = await putBlob(t, 'ut/x.csv', `${CSV_HEADER}\n${validRows(0, 100)}`);
    expect(second).not.toBe(first.etag);
    const newer = await finalStatus(t, 'ut/x.csv', { notUploadId: older.uploadId });
    expect(newer).toMatchObject({ status: 'complete', rowsCommitted: 100 });

    const olderFinal = await waitFor('the older upload to end', async () => {
      const body = await getJson<UploadStatusBody>(t, older.links.self);
      return isFinal(body.status) ? body : undefined;
    }, 180_000);
    expect(olderFinal.status).not.toBe('complete');
    expect(olderFinal.isActive).toBe(false);
    expect(await activeRows(t, 'ut')).toEqual({ n: 100, distinct: 100, uploadId: newer.uploadId });
    expect(await getJson<UploadStatusBody>(t, newer.links.self)).toMatchObject({ status: 'complete', isActive: true });
  });
});
