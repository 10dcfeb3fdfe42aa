import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Range reads over an uploaded file; the engine never needs the whole file in memory. */
export interface ByteSource {
  size(): Promise<number>;
  /** Bytes `[start, endExclusive)`. */
  stream(start: number, endExclusive: number): AsyncIterable<Buffer> | Readable;
}

// Large enough for native searches to pay off, small enough to keep peak memory low.
const READ_SIZE = 256 * 1024;

export function fileByteSource(path: string): ByteSource {
  return {
    async size() {
      return (await stat(path)).size;
    },
    stream(start, endExclusive) {
      if (endExclusive <= start) return emptyStream();
      // fs `end` is inclusive.
      return createReadStream(path, { start, end: endExclusive - 1, highWaterMark: READ_SIZE });
    },
  };
}

async function* emptyStream(): AsyncIterable<Buffer> {}
