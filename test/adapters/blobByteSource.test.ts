import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient, type BlockBlobClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/src/azurite.js';
import { blobByteSource } from '../../src/adapters/blobByteSource.js';

import { PermanentError, type ByteSource } from '../../src/engine/index.js';

const BLOCK_BYTES = 64 * 1024;

async function read(source: ByteSource, start: number, end: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of source.stream(start, end)) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

// Every range, the whole blob too, is read byte for byte, and only ever from the registered version.
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
    const source = blobByteSource(blob, etag);
    expect(await source.size()).toBe(content.length);
    for (const [start, end] of [[0, content.length], [BLOCK_BYTES - 5, 6 * BLOCK_BYTES + 7], [17, 17 + 4 * BLOCK_BYTES], [100, 200], [5, 5]] as const) {
      expect((await read(source, start, end)).equals(content.subarray(start, end))).toBe(true);
    }
  });

  it('never mixes versions: a read under way when the blob is overwritten gives the old bytes or fails for good; later reads fail', async () => {
    const source = blobByteSource(blob, etag);
    const reading = source.stream(0, content.length)[Symbol.asyncIterator]();
    const first = (await reading.next()).value as Buffer;
    expect(first.equals(content.subarray(0, first.length))).toBe(true);
    await blob.uploadData(randomBytes(content.length));
    const rest = (async () => {
      const pieces = [first];
      for (let step = await reading.next(); !step.done; step = await reading.next()) pieces.push(step.value as Buffer);
      return Buffer.concat(pieces);
    })();
    const outcome = await rest.then((bytes) => bytes, (error: unknown) => error);
    if (Buffer.isBuffer(outcome)) expect(outcome.equals(content)).toBe(true);
    else expect(outcome).toBeInstanceOf(PermanentError);
    await expect(read(source, 0, 10)).rejects.toThrow(/eTag mismatch/);
    await expect(read(source, 0, content.length)).rejects.toBeInstanceOf(PermanentError);
  });
});
