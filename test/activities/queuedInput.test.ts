import { describe, expect, it } from 'vitest';
import { makeCommitChunkActivity } from '../../src/activities/commitChunkActivity.js';
import { makePlanUploadActivity } from '../../src/activities/planUploadActivity.js';
import { activateUpload, registerUpload } from '../../src/engine/index.js';
import { useAppClients } from '../support/appClients.js';
import { useEngineDatabase } from '../support/engineDatabase.js';
import { useUploadStorage } from '../support/uploadStorage.js';
import { CSV_HEADER, validRows } from '../support/uploads.js';

const ROWS = 3000;

// An ingestion in flight across a deploy: its plan and commit activities were queued by a version whose inputs named
// only the upload ({ uploadId } and { uploadId, chunkNo }), and run on a version that reads the blob from its input.
describe('activity inputs queued before they named their blob', () => {
  const engine = useEngineDatabase();
  const storage = useUploadStorage();
  const clients = useAppClients(engine, storage, { INGEST_CHUNK_BYTES: '16384' });

  it('plan and commit find the blob the upload was registered for, and every row is committed', async () => {
    const csv = `${CSV_HEADER}\n${validRows(0, ROWS)}`;
    const uploaded = await storage.uploads.getBlockBlobClient('ca/queued.csv').upload(csv, Buffer.byteLength(csv));
    const { uploadId } = await registerUpload(engine.pool, { state: 'CA', container: 'uploads', blobName: 'ca/queued.csv', etag: uploaded.etag! });

    const plan = await makePlanUploadActivity(clients())({ uploadId });
    expect(plan).toMatchObject({ ok: true, rowsTotal: ROWS });
    const { chunksTotal } = plan as { chunksTotal: number };
    expect(chunksTotal).toBeGreaterThan(1);

    const commit = makeCommitChunkActivity(clients());
    const results = await Promise.all(Array.from({ length: chunksTotal }, (_, chunkNo) => commit({ uploadId, chunkNo })));
    expect(results.filter((result) => !result.ok)).toEqual([]);
    expect(results.reduce((sum, result) => sum + (result.ok ? result.rowsCommitted : 0), 0)).toBe(ROWS);
    expect(await activateUpload(engine.pool, uploadId)).toMatchObject({ status: 'complete', rowsCommitted: ROWS, rowsRejected: 0 });
  });
});
