import { describe, expect, it } from 'vitest';
import { activateUpload, commitChunk, failUpload, getUpload, planUpload, registerUpload } from '../../src/engine/index.js';
import { withTransaction } from '../../src/engine/db.js';
import { markUploadFailed } from '../../src/engine/uploadFailure.js';
import { csvSource, ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { FULL_HEADER, hashOf } from '../support/uploads.js';

const row = (i: number, lds = hashOf(i)) => `${lds},C${i},P${i},,,`;
const csv = (n: number, bad: (i: number) => boolean = () => false) =>
  `${[FULL_HEADER, ...Array.from({ length: n }, (_, k) => (bad(k + 1) ? row(k + 1, 'x') : row(k + 1)))].join('\n')}\n`;

describe('failing an upload (one door for plan, chunk and activation failures)', () => {
  const engine = useEngineDatabase();

  const events = async (uploadId: string) =>
    (await engine.pool.query('SELECT id, type, data FROM bulkflow.outbox WHERE data->>\'uploadId\' = $1 ORDER BY seq', [uploadId])).rows;

  it('a bad file: failed with its line, an event without counts', async () => {
    const { uploadId } = await ingest(engine.pool, 'lds_hash,case_id\nx,y\n', { state: 'PF', source: 'uploads/pf/bad.csv', etag: '1' });
    expect((await getUpload(engine.pool, { uploadId }))?.error).toEqual({ code: 'missing_column', message: expect.any(String), line: 1 });
    expect(await events(uploadId)).toEqual([{
      id: `${uploadId}.failed`, type: 'gov.bulkflow.upload.failed',
      data: {
        uploadId, state: 'PF', source: 'uploads/pf/bad.csv', status: 'failed', activated: false,
        rowsTotal: null, rowsCommitted: null, rowsRejected: null, errorCode: 'missing_column', errorLine: 1,
      },
    }]);
  });

  it('a chunk that failed for good: failed with the planned total, once however often it is asked', async () => {
    const file = await csvSource(csv(30));
    try {
      const { uploadId } = await registerUpload(engine.pool, { state: 'CF', source: 'uploads/cf/chunk.csv', etag: '1' });
      await planUpload(engine.pool, uploadId, file, { targetChunkBytes: 1024 });
      const reason = { code: 'PermanentError', message: 'chunk 1: the blob changed' };
      const [first, second] = await Promise.all([failUpload(engine.pool, uploadId, reason), failUpload(engine.pool, uploadId, reason)]);
      expect(first).toEqual(second);
      expect(first).toMatchObject({ status: 'failed', activated: false, errorCode: 'PermanentError', errorMessage: 'chunk 1: the blob changed' });
      expect(await events(uploadId)).toEqual([{
        id: `${uploadId}.failed`, type: 'gov.bulkflow.upload.failed',
        data: {
          uploadId, state: 'CF', source: 'uploads/cf/chunk.csv', status: 'failed', activated: false,
          rowsTotal: 30, rowsCommitted: null, rowsRejected: null, errorCode: 'PermanentError',
        },
      }]);
      expect((await getUpload(engine.pool, { uploadId }))?.error).toEqual({ code: 'PermanentError', message: 'chunk 1: the blob changed', line: null });
    } finally {
      await file.remove();
    }
  });

  it('too many rejected rows: failed with the exact counts', async () => {
    const { uploadId, activation } = await ingest(engine.pool, csv(20, (i) => i % 2 === 0), {
      state: 'RF', source: 'uploads/rf/rejected.csv', etag: '1', maxRejectedShare: 0.05,
    });
    expect(activation).toMatchObject({ status: 'failed', errorCode: 'too_many_rejected' });
    expect(await events(uploadId)).toEqual([{
      id: `${uploadId}.failed`, type: 'gov.bulkflow.upload.failed',
      data: {
        uploadId, state: 'RF', source: 'uploads/rf/rejected.csv', status: 'failed', activated: false,
        rowsTotal: 20, rowsCommitted: 10, rowsRejected: 10, errorCode: 'too_many_rejected',
      },
    }]);
  });

  it('never fails a final upload, nor (unplannedOnly) one whose plan another caller stored', async () => {
    const done = await ingest(engine.pool, csv(5), { state: 'NF', source: 'uploads/nf/done.csv', etag: '1' });
    expect(await failUpload(engine.pool, done.uploadId, { code: 'late', message: 'too late' })).toEqual(done.activation);
    expect((await events(done.uploadId)).map((e) => e.type)).toEqual(['gov.bulkflow.upload.completed']);

    const file = await csvSource(csv(5));
    try {
      const { uploadId } = await registerUpload(engine.pool, { state: 'NF', source: 'uploads/nf/planned.csv', etag: '1' });
      await planUpload(engine.pool, uploadId, file);
      await withTransaction(engine.pool, (client) => markUploadFailed(client, uploadId, { code: 'empty_file', message: 'x' }, { unplannedOnly: true }));
      expect((await getUpload(engine.pool, { uploadId }))?.status).toBe('running');
      expect(await events(uploadId)).toEqual([]);
      await commitChunk(engine.pool, { uploadId, chunkNo: 0 }, file);
      expect(await activateUpload(engine.pool, uploadId)).toMatchObject({ status: 'complete' });
    } finally {
      await file.remove();
    }
  });
});
