import { Transform, type TransformCallback } from 'node:stream';
import { CopyBinaryWriter } from './copyBinary.js';
import { COLUMNS, type ColumnName } from './participantSchema.js';
import { RecordScanner, type ScannedRecord } from './recordScanner.js';
import { booleanValue, closingDate, identifier, issuanceDates, ldsHash, type Check } from './rowRules.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const EMPTY = Buffer.alloc(0);

const CHECKS: Record<ColumnName, Check> = {
  lds_hash: ldsHash,
  case_id: identifier(false),
  participant_id: identifier(true),
  participant_closing_date: closingDate,
  recent_benefit_issuance_dates: issuanceDates,
  vulnerable_individual: booleanValue,
};

type Write = (out: CopyBinaryWriter, b: Buffer, start: number, end: number) => void;

/** How each column's (valid, non-empty) field becomes its binary value. */
const WRITES: Record<ColumnName, Write> = {
  lds_hash: (out, b, start, end) => out.hexBytes(b, start, end),
  case_id: (out, b, start, end) => out.text(b, start, end),
  participant_id: (out, b, start, end) => out.text(b, start, end),
  participant_closing_date: (out, b, start, end) => out.date(b, start, end),
  recent_benefit_issuance_dates: (out, b, start, end) => out.dateRanges(b, start, end),
  vulnerable_individual: (out, b, start) => out.bool(b, start),
};

const CHECK_LIST = COLUMNS.map((column) => CHECKS[column]);
const HASH = COLUMNS.indexOf('lds_hash');
const WRITERS = COLUMNS.map((column) => WRITES[column]);

/** One failing column of a rejected row (column null for a whole-row problem); never a value. */
export interface RowReject {
  line: number;
  column: ColumnName | null;
  code: string;
  /** For field_count: the fields the row has. */
  fields?: number;
}

export interface CopyEncoderOptions {
  startOffset: number;
  startLine: number;
  maxRecordBytes: number;
  /** Header column names in file order (unknown ones included). */
  header: string[];
}

/** The COPY statement options and column list matching the rows this encoder writes (lds_key: see hexKey). */
export const COPY_COLUMNS = ['line', ...COLUMNS, 'lds_key'] as const;
export const COPY_OPTIONS = '(FORMAT binary)';

/**
 * Turns a chunk's bytes into binary COPY rows `line, <the six columns>, lds_key` for the rows that pass every
 * column rule, and collects the failures of the others as (line, column, code). Fields are checked
 * on the bytes where they lie; only a quoted field is copied (to unquote it). An empty or absent field
 * is NULL; lds_hash goes as its 64 bytes, dates as day numbers, the intervals as a daterange[].
 */
export class CopyEncoder extends Transform {
  readonly rejects: RowReject[] = [];
  records = 0;
  rowsRejected = 0;
  private readonly scanner: RecordScanner;
  private readonly columnField: number[];
  private readonly fieldBuf: Buffer[];
  private readonly fieldStart: number[];
  private readonly fieldEnd: number[];
  private readonly out = new CopyBinaryWriter();

  constructor(private readonly options: CopyEncoderOptions) {
    super();
    this.columnField = COLUMNS.map((column) => options.header.indexOf(column));
    const n = options.header.length;
    this.fieldBuf = new Array<Buffer>(n);
    this.fieldStart = new Array<number>(n).fill(0);
    this.fieldEnd = new Array<number>(n).fill(0);
    this.scanner = new RecordScanner(
      { startOffset: options.startOffset, startLine: options.startLine, maxRecordBytes: options.maxRecordBytes, capture: true },
      (record) => this.encode(record),
    );
    this.out.begin();
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
      this.out.finish();
      this.flushOut();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private encode(record: ScannedRecord): void {
    this.records++;
    const { line } = record;
    const fields = record.quoted
      ? this.splitFields(record.buf!, record.from, record.to)
      : this.splitPlainFields(record.buf!, record.from, record.to);
    if (fields !== this.options.header.length) {
      this.rejectRow({ line, column: null, code: 'field_count', fields });
      return;
    }
    if (record.strayCarriageReturn) {
      this.rejectRow({ line, column: null, code: 'invalid_line_break' });
      return;
    }
    let failed = false;
    for (let i = 0; i < COLUMNS.length; i++) {
      const field = this.columnField[i]!;
      const code = field < 0
        ? CHECK_LIST[i]!(EMPTY, 0, 0)
        : CHECK_LIST[i]!(this.fieldBuf[field]!, this.fieldStart[field]!, this.fieldEnd[field]!);
      if (code === undefined) continue;
      if (!failed) this.rowsRejected++;
      failed = true;
      this.rejects.push({ line, column: COLUMNS[i]!, code });
    }
    if (failed) return;
    this.writeRow(line, record.to - record.from);
  }

  private rejectRow(reject: RowReject): void {
    this.rowsRejected++;
    this.rejects.push(reject);
  }

  /** splitFields for a record without quotes: native searches for the delimiters. */
  private splitPlainFields(bytes: Buffer, from: number, to: number): number {
    const capacity = this.fieldBuf.length;
    let field = 0;
    let start = from;
    for (;;) {
      let comma = bytes.indexOf(COMMA, start);
      if (comma < 0 || comma > to) comma = to;
      if (field < capacity) {
        this.fieldBuf[field] = bytes;
        this.fieldStart[field] = start;
        this.fieldEnd[field] = comma;
      }
      field++;
      if (comma === to) return field;
      start = comma + 1;
    }
  }

  /**
   * Records the spans of the first header-count fields (quoted ones unquoted into a copy) and
   * returns how many fields the record has.
   */
  private splitFields(bytes: Buffer, from: number, to: number): number {
    const capacity = this.fieldBuf.length;
    let field = 0;
    let start = from;
    let quoted = false;
    let inQuote = false;
    for (let i = from; i <= to; i++) {
      const c = i < to ? bytes[i] : COMMA;
      if (c === QUOTE) {
        inQuote = !inQuote;
        quoted = true;
      } else if (c === COMMA && !inQuote) {
        if (field >= capacity) {
          // More fields than the header: only the count matters now.
        } else if (quoted) {
          const value = unquote(bytes, start, i);
          this.fieldBuf[field] = value;
          this.fieldStart[field] = 0;
          this.fieldEnd[field] = value.length;
        } else {
          this.fieldBuf[field] = bytes;
          this.fieldStart[field] = start;
          this.fieldEnd[field] = i;
        }
        field++;
        start = i + 1;
        quoted = false;
      }
    }
    return field;
  }

  /** The row in binary COPY form: the line, the six columns (absent or empty ones NULL), the lookup key. */
  private writeRow(line: number, recordBytes: number): void {
    const out = this.out;
    out.row(COPY_COLUMNS.length, recordBytes + 256);
    out.int4(line);
    for (let i = 0; i < COLUMNS.length; i++) {
      const field = this.columnField[i]!;
      const start = field < 0 ? 0 : this.fieldStart[field]!;
      const end = field < 0 ? 0 : this.fieldEnd[field]!;
      if (start === end) {
        out.null();
        continue;
      }
      const buf = this.fieldBuf[field]!;
      WRITERS[i]!(out, buf, start, end);
    }
    // lds_hash is required, so a row that passed the rules has it.
    const hash = this.columnField[HASH]!;
    out.hexKey(this.fieldBuf[hash]!, this.fieldStart[hash]!);
  }

  private flushOut(): void {
    if (this.out.length > 0) this.push(this.out.take());
  }
}

/** RFC 4180 field value: quotes toggle quoting, `""` inside quotes is one quote (as PostgreSQL reads it). */
function unquote(bytes: Buffer, start: number, end: number): Buffer {
  const value = Buffer.allocUnsafe(end - start);
  let length = 0;
  let inQuote = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c !== QUOTE) value[length++] = c;
    else if (inQuote && i + 1 < end && bytes[i + 1] === QUOTE) {
      value[length++] = QUOTE;
      i++;
    } else inQuote = !inQuote;
  }
  return value.subarray(0, length);
}
