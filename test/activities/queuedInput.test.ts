import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCommitChunkActivity } from '../../src/activities/commitChunkActivity.js';
import { makePlanUploadActivity } from '../../src/activities/planUploadActivity.js';
import { loadSettings } from '../../src/adapters/settings.js';
import { composeApp, type AppClients } from '../../src/composition.js';
import { activateUpload, registerUpload } from '../../src/engine/index.js';
import { useEngineDatabase } from '../support/engineDatabase.js';
import { useUploadStorage } from '../support/uploadStorage.js';
import { CSV_HEADER, validRows } from '../support/uploads.js';

const EMULATOR = 'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;';
const AUTH = { AUTH_ISSUER: 'https://login.bulkflow.localhost/local/v2.0', AUTH_AUDIENCE: 'api://bulkflow-local', AUTH_JWKS_URL: 'http://127.0.0.1:1/keys' };
const ROWS = 3000;

// An ingestion in flight across a deploy: its plan and commit activities were queued by a version whose inputs named
// only the upload ({ uploadId } and { uploadId, chunkNo }), and run on a version that reads the blob from its input.
describe('activity inputs queued before they named their blob', () => {
  const engine = useEngineDatabase();
  const storage = useUploadStorage();
  let clients: AppClients;
  beforeAll(() => {
    const env = { UploadStorage: storage.azurite.connectionString, EventHubConnection: EMULATOR, DATABASE_URL: engine.db.url, INGEST_CHUNK_BYTES: '16384', ...AUTH };
    clients = composeApp(() => loadSettings(env));
  });
  afterAll(async () => clients?.close());

  it('plan and commit find the blob the upload was registered for, and every row is committed', async () => {
    const csv = `${CSV_HEADER}\n${validRows(0, ROWS)}`;
    const uploaded = await storage.uploads.getBlockBlobClient('ca/queued.csv').upload(csv, Buffer.byteLength(csv));
    const { uploadId } = await registerUpload(engine.pool, { state: 'CA', container: 'uploads', blobName: 'ca/queued.csv', etag: uploaded.etag! });

    const plan = await makePlanUploadActivity(clients)({ uploadId });
    expect(plan).toMatchObject({ ok: true, rowsTotal: ROWS });
    const { chunksTotal } = plan as { chunksTotal: number };
    expect(chunksTotal).toBeGreaterThan(1);

    const commit = makeCommitChunkActivity(clients);
    const results = await Promise.all(Array.from({ length: chunksTotal }, (_, chunkNo) => commit({ uploadId, chunkNo })));
    expect(results.filter((result) => !result.ok)).toEqual([]);
    expect(results.reduce((sum, result) => sum + (result.ok ? result.rowsCommitted : 0), 0)).toBe(ROWS);
    expect(await activateUpload(engine.pool, uploadId)).toMatchObject({ status: 'complete', rowsCommitted: ROWS, rowsRejected: 0 });
  });
});
