import { describe, expect, it } from 'vitest';
import {
  activateUpload, commitChunk, getUpload, PermanentError, planUpload, registerUpload, TransientError, type ByteSource,
} from '../../src/engine/index.js';
import { useEngineDatabase } from '../support/engineDatabase.js';
import { FULL_HEADER, hashOf } from '../support/uploads.js';

const row = (i: number) => `${hashOf(i)},C${i},P${i},,2024-1-1/2024-1-31,true`;
const csv = (n: number, tail = '') => Buffer.from(`${[FULL_HEADER, ...Array.from({ length: n }, (_, i) => row(i + 1))].join('\n')}\n${tail}`);

/**
 * The file in memory; the whole-file read (planning's) stops after its first `held` bytes until `release()`,
 * so a test can act while the plan has cut only the first chunks. Range reads (commits') are never held.
 */
function heldSource(bytes: Buffer, held: number): ByteSource & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    async size() {
      return bytes.length;
    },
    async *stream(start, end) {
      if (start === 0 && end === bytes.length) {
        yield bytes.subarray(0, held);
        await gate;
        yield bytes.subarray(held);
        return;
      }
      yield bytes.subarray(start, end);
    },
  };
}

const settled = async (promise: Promise<unknown>) => Promise.race([promise.then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), 300))]);

describe('committing chunks while the plan is still cutting them', () => {
  const engine = useEngineDatabase();
  const register = async (state: string) => (await registerUpload(engine.pool, { state, source: `${state}.csv`, etag: `"${Math.random()}"` })).uploadId;

  it('commits the chunks cut so far while the rest of the file is still being read, and activates them all', async () => {
    const bytes = csv(100); // ~17 KB: 1 KB chunks
    const source = heldSource(bytes, 4096);
    const uploadId = await register('WA');
    const plan = planUpload(engine.pool, uploadId, source, { targetChunkBytes: 1024 });
    const first = await commitChunk(engine.pool, { uploadId, chunkNo: 0 }, source);
    const second = await commitChunk(engine.pool, { uploadId, chunkNo: 1 }, source);
    expect(await settled(plan)).toBe(false); // still held after the first 4 KB
    expect(first.rowsCommitted + second.rowsCommitted).toBeGreaterThan(0);
    // A chunk beyond what is cut waits for the plan.
    const last = commitChunk(engine.pool, { uploadId, chunkNo: 10 }, source);
    expect(await settled(last)).toBe(false);
    source.release();
    const planned = await plan;
    if (!planned.ok) throw new Error(planned.error.message);
    expect((await last).rowsCommitted).toBe(planned.plan.chunks[10]!.rows);
    for (const chunk of planned.plan.chunks.slice(2)) {
      if (chunk.chunkNo !== 10) await commitChunk(engine.pool, { uploadId, chunkNo: chunk.chunkNo }, source);
    }
    expect(planned.plan.chunks.slice(0, 2).map((c) => c.rows)).toEqual([first.rowsCommitted, second.rowsCommitted]);
    expect(await activateUpload(engine.pool, uploadId)).toMatchObject({ status: 'complete', rowsTotal: 100, rowsCommitted: 100, rowsRejected: 0 });
  });

  it('fails the upload when a whole-file error comes after rows were loaded, and never activates them', async () => {
    const bytes = Buffer.concat([csv(100), Buffer.from([0xff, 0x0a])]); // invalid UTF-8 on the last line
    const source = heldSource(bytes, 4096);
    const uploadId = await register('WB');
    const plan = planUpload(engine.pool, uploadId, source, { targetChunkBytes: 1024 });
    expect((await commitChunk(engine.pool, { uploadId, chunkNo: 0 }, source)).rowsCommitted).toBeGreaterThan(0);
    const beyond = commitChunk(engine.pool, { uploadId, chunkNo: 40 }, source);
    source.release();
    expect(await plan).toEqual({ ok: false, error: { code: 'invalid_utf8', message: expect.stringContaining('line 102'), line: 102 } });
    // The plan ended without that chunk: the waiting commit ends too, as for any chunk that was never planned.
    await expect(beyond).rejects.toBeInstanceOf(PermanentError);
    expect(await activateUpload(engine.pool, uploadId)).toMatchObject({ status: 'failed', activated: false, errorCode: 'invalid_utf8' });
    expect((await engine.pool.query('SELECT 1 FROM bulkflow.active_uploads WHERE state = $1', ['WB'])).rowCount).toBe(0);
  });

  it('gives up transiently when its chunk is not cut in time (the plan has not run)', async () => {
    const uploadId = await register('WC');
    const error = await commitChunk(engine.pool, { uploadId, chunkNo: 0 }, heldSource(csv(1), 1), { planWaitMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe(`chunk 0 of upload ${uploadId} not planned after 0.2 s`);
    expect(await getUpload(engine.pool, { uploadId })).toMatchObject({ status: 'pending' });
  });
});
