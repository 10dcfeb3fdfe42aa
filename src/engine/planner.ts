import type { ByteSource } from './byteSource.js';
import { WholeFileError } from './errors.js';
import { DEFAULT_CHUNK_BYTES, DEFAULT_MAX_LINE_BYTES, FIRST_CHUNK_BYTES } from './ingestPolicy.js';
import { parseHeader, type Header } from './participantSchema.js';
import { RecordScanner, type ScannedRecord } from './recordScanner.js';

export interface Chunk {
  chunkNo: number;
  /** First byte of the chunk; every chunk but the first starts at a record. */
  byteStart: number;
  /** First byte after the chunk; the next chunk's byteStart, or the file size. */
  byteEnd: number;
  /** Physical line of the byte at byteStart. */
  firstLine: number;
  rows: number;
}

export interface Plan extends Header {
  sizeBytes: number;
  chunks: Chunk[];
  rowsTotal: number;
}

export interface PlanOptions {
  targetChunkBytes?: number;
  maxLineBytes?: number;
}

/** Receives chunks as the scan cuts them (before the whole file is read); awaited, so the scan waits for it. */
export type ChunkListener = (header: Header, chunks: Chunk[]) => Promise<void>;

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * One streaming pass over the file: validates its structure (throws WholeFileError), reads the
 * header and cuts the data region into chunks of about `targetChunkBytes` at record boundaries.
 * Chunks tile the bytes after the header exactly. Memory does not grow with the file.
 * `onChunks` hears of every chunk but the last as soon as it is cut, so its rows can load while the scan
 * goes on; a whole-file error found later still throws.
 */
export async function planChunks(source: ByteSource, options: PlanOptions = {}, onChunks?: ChunkListener): Promise<Plan> {
  const target = options.targetChunkBytes ?? DEFAULT_CHUNK_BYTES;
  let chunkTarget = Math.min(target, FIRST_CHUNK_BYTES); // the first chunk's (see FIRST_CHUNK_BYTES), then target
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const sizeBytes = await source.size();
  if (sizeBytes === 0) throw new WholeFileError('empty_file', 'the file is empty');

  let header: Header | undefined;
  const chunks: Chunk[] = [];
  let chunkStart = 0;
  let chunkFirstLine = 0;
  let chunkRows = 0;
  let rowsTotal = 0;
  let scanner: RecordScanner | undefined;
  let reported = 0;
  const onRecord = (record: ScannedRecord) => {
    if (!header) {
      header = parseHeader(record.buf!.subarray(record.from, record.to), record.line);
      scanner!.capture = false;
      chunkStart = record.end;
      chunkFirstLine = record.endLine;
      return;
    }
    if (chunkRows > 0 && record.start - chunkStart >= chunkTarget) {
      chunks.push({ chunkNo: chunks.length, byteStart: chunkStart, byteEnd: record.start, firstLine: chunkFirstLine, rows: chunkRows });
      chunkTarget = target;
      chunkStart = record.start;
      chunkFirstLine = record.line;
      chunkRows = 0;
    }
    chunkRows++;
    rowsTotal++;
  };

  let pending: Buffer | undefined = Buffer.alloc(0); // bytes held until the BOM question is settled
  for await (const piece of source.stream(0, sizeBytes)) {
    const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
    if (pending) {
      pending = Buffer.concat([pending, buf]);
      if (pending.length < BOM.length) continue;
      const bomLength = pending.subarray(0, BOM.length).equals(BOM) ? BOM.length : 0;
      scanner = new RecordScanner({ startOffset: bomLength, startLine: 1, maxRecordBytes: maxLineBytes, capture: true }, onRecord);
      scanner.push(pending.subarray(bomLength));
      pending = undefined;
    } else {
      scanner!.push(buf);
    }
    if (onChunks && chunks.length > reported) {
      const cut = chunks.slice(reported);
      reported = chunks.length;
      await onChunks(header!, cut);
    }
  }
  if (pending) {
    scanner = new RecordScanner({ startOffset: 0, startLine: 1, maxRecordBytes: maxLineBytes, capture: true }, onRecord);
    scanner.push(pending);
  }
  scanner!.end();

  if (!header) throw new WholeFileError('empty_file', 'the file holds no records (only blank lines)');
  if (rowsTotal === 0) throw new WholeFileError('header_only', 'the file has a header but no data rows');
  chunks.push({ chunkNo: chunks.length, byteStart: chunkStart, byteEnd: sizeBytes, firstLine: chunkFirstLine, rows: chunkRows });
  return { ...header, sizeBytes, chunks, rowsTotal };
}
