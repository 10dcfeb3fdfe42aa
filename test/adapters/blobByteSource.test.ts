import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient, type BlockBlobClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/src/azurite.js';
import { blobByteSource } from '../../src/adapters/blobByteSource.js';

const BLOCK_BYTES = 64 * 1024;
import { PermanentError, type ByteSource } from '../../src/engine/index.js';

async function read(source: ByteSource, start: number, end: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of source.stream(start, end)) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

// Long ranges are read as blocks downloaded several at once and handed on in order: every byte once, in place.
describe('blob byte source (Azurite)', () => {
  let dir: string;
  let azurite: RunningAzurite;
  let blob: BlockBlobClient;
  const content = randomBytes(10 * BLOCK_BYTES + 12_345);
  let etag: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(process.cwd(), '.data', 'blob-source-'));
    azurite = await startAzurite({ location: dir });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('uploads');
    await container.createIfNotExists();
    blob = container.getBlockBlobClient('xx/blocks.csv');
    etag = (await blob.uploadData(content)).etag!.replace(/^"|"$/g, '');
  }, 60_000);
  afterAll(async () => {
    await azurite?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads whole, long, block-crossing and short ranges byte for byte', async () => {
    const source = blobByteSource(blob, etag, { blockBytes: BLOCK_BYTES });
    expect(await source.size()).toBe(content.length);
    for (const [start, end] of [[0, content.length], [BLOCK_BYTES - 5, 6 * BLOCK_BYTES + 7], [17, 17 + 4 * BLOCK_BYTES], [100, 200], [5, 5]] as const) {
      expect((await read(source, start, end)).equals(content.subarray(start, end))).toBe(true);
    }
  });

  it('fails for good when the blob was overwritten after registration, also mid-way through a long read', async () => {
    const source = blobByteSource(blob, etag, { blockBytes: BLOCK_BYTES });
    const reading = source.stream(0, content.length)[Symbol.asyncIterator]();
    expect(((await reading.next()).value as Buffer).equals(content.subarray(0, BLOCK_BYTES))).toBe(true);
    await blob.uploadData(randomBytes(content.length));
    await expect((async () => {
      for (let step = await reading.next(); !step.done; step = await reading.next());
    })()).rejects.toBeInstanceOf(PermanentError);
    await expect(read(source, 0, 10)).rejects.toThrow(/eTag mismatch/);
  });
});
