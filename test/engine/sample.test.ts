import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activateUpload, commitChunk, fileByteSource, getUpload, listRowErrors, planUpload, registerUpload,
} from '../../src/engine/index.js';
import { createEngineDatabase, type EngineDatabase } from '../support/engineDatabase.js';

describe('the bundled sample end to end', () => {
  let engine: EngineDatabase;
  beforeAll(async () => {
    engine = await createEngineDatabase();
  });
  afterAll(async () => engine.close());

  it('plans, commits and activates with the expected counts', async () => {
    const source = fileByteSource('samples/participants-sample.csv');
    const { uploadId } = await registerUpload(engine.pool, { state: 'ca', source: 'ca/participants.csv', etag: '"0x1"' });
    const planned = await planUpload(engine.pool, uploadId, source, { targetChunkBytes: 512 * 1024 });
    if (!planned.ok) throw new Error(planned.error.message);
    expect(planned.plan.rowsTotal).toBe(20000);
    for (const chunk of planned.plan.chunks) await commitChunk(engine.pool, { uploadId, chunkNo: chunk.chunkNo }, source);
    const result = await activateUpload(engine.pool, uploadId);
    console.log(result, (await getUpload(engine.pool, uploadId))?.errorCounts);
    console.log((await listRowErrors(engine.pool, uploadId, { limit: 12 })).errors);
    expect(result.status).toBe('complete');
  });
});
