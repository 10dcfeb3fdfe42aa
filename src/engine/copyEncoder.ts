import { Transform, type TransformCallback } from 'node:stream';
import { RecordScanner, type ScannedRecord } from './recordScanner.js';

export interface RejectedRecord {
  line: number;
  code: 'field_count' | 'invalid_line_break';
  fields: number;
}

export interface CopyEncoderOptions {
  startOffset: number;
  startLine: number;
  maxRecordBytes: number;
  expectedFields: number;
}

/**
 * Turns a chunk's bytes into COPY CSV input: each structurally sound record becomes
 * `<line>,<the record's original bytes>\n`, so PostgreSQL parses the fields and no per-field
 * JavaScript objects are made. Records with the wrong field count are set aside (line only).
 */
export class CopyEncoder extends Transform {
  readonly rejected: RejectedRecord[] = [];
  records = 0;
  private readonly scanner: RecordScanner;
  private out = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  constructor(private readonly options: CopyEncoderOptions) {
    super();
    this.scanner = new RecordScanner(
      { startOffset: options.startOffset, startLine: options.startLine, maxRecordBytes: options.maxRecordBytes, capture: true },
      (record) => this.encode(record),
    );
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.scanner.push(chunk);
      this.flushOut();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.scanner.end();
      this.flushOut();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private encode(record: ScannedRecord): void {
    this.records++;
    if (record.fields !== this.options.expectedFields) {
      this.rejected.push({ line: record.line, code: 'field_count', fields: record.fields });
      return;
    }
    if (record.strayCarriageReturn) {
      this.rejected.push({ line: record.line, code: 'invalid_line_break', fields: record.fields });
      return;
    }
    const bytes = record.bytes!;
    this.reserve(bytes.length + 12);
    this.used += this.out.write(`${record.line},`, this.used, 'latin1');
    this.used += bytes.copy(this.out, this.used);
    this.out[this.used++] = 0x0a;
  }

  private reserve(extra: number): void {
    if (this.used + extra <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.used + extra));
    this.out.copy(bigger, 0, 0, this.used);
    this.out = bigger;
  }

  private flushOut(): void {
    if (this.used === 0) return;
    // Hand the filled buffer to COPY and start a fresh one rather than copying.
    this.push(this.out.subarray(0, this.used));
    this.out = Buffer.allocUnsafe(this.out.length);
    this.used = 0;
  }
}
