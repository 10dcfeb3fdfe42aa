import { Transform, type TransformCallback } from 'node:stream';
import { COLUMNS, type ColumnName } from './participantSchema.js';
import { RecordScanner, type ScannedRecord } from './recordScanner.js';
import { booleanValue, closingDate, identifier, issuanceDates, ldsHash, type Check } from './rowRules.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

const CHECKS: Record<ColumnName, Check> = {
  lds_hash: ldsHash,
  case_id: identifier(false),
  participant_id: identifier(true),
  participant_closing_date: closingDate,
  recent_benefit_issuance_dates: issuanceDates,
  vulnerable_individual: booleanValue,
};

const CHECK_LIST = COLUMNS.map((column) => CHECKS[column]);
const ISSUANCE = COLUMNS.indexOf('recent_benefit_issuance_dates');
const LDS_HASH = COLUMNS.indexOf('lds_hash');
const BACKSLASH = 0x5c;
const LOWER_X = 0x78;

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

/** The COPY statement options and column list matching the rows this encoder writes. */
export const COPY_COLUMNS = ['line', ...COLUMNS] as const;
export const COPY_OPTIONS = '(FORMAT csv)';

/**
 * Turns a chunk's bytes into COPY CSV rows `line,<the six columns>` for the rows that pass every
 * column rule, and collects the failures of the others as (line, column, code). Fields are checked
 * on the bytes where they lie; only a quoted field is copied (to unquote it). An empty field is
 * written empty (NULL in COPY CSV); valid values never need quoting, the daterange[] literal does.
 * lds_hash gets the `\x` prefix of bytea's hex input, so PostgreSQL stores its 64 bytes.
 */
export class CopyEncoder extends Transform {
  readonly rejects: RowReject[] = [];
  records = 0;
  rowsRejected = 0;
  private readonly scanner: RecordScanner;
  private readonly columnField: number[];
  /** The header is exactly the six columns in their canonical order (rows are copied nearly as they are). */
  private readonly canonical: boolean;
  private readonly fieldBuf: Buffer[];
  private readonly fieldStart: number[];
  private readonly fieldEnd: number[];
  private out = Buffer.allocUnsafe(256 * 1024);
  private used = 0;

  constructor(private readonly options: CopyEncoderOptions) {
    super();
    this.columnField = COLUMNS.map((column) => options.header.indexOf(column));
    this.canonical = options.header.length === COLUMNS.length && this.columnField.every((field, i) => field === i);
    const n = options.header.length;
    this.fieldBuf = new Array<Buffer>(n);
    this.fieldStart = new Array<number>(n).fill(0);
    this.fieldEnd = new Array<number>(n).fill(0);
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
    if (this.canonical && !record.quoted) this.writePlainRow(line, record.buf!, record.from, record.to);
    else this.writeRow(line);
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

  /** Any header order, quoted fields: the six columns written one by one. */
  private writeRow(line: number): void {
    this.reserve(16);
    this.appendNumber(line);
    for (let i = 0; i < COLUMNS.length; i++) {
      this.out[this.used++] = COMMA;
      const field = this.columnField[i]!;
      if (field < 0) continue;
      const start = this.fieldStart[field]!;
      const end = this.fieldEnd[field]!;
      if (i === ISSUANCE) this.appendIssuanceLiteral(this.fieldBuf[field]!, start, end);
      else {
        if (i === LDS_HASH) this.appendHexPrefix();
        this.append(this.fieldBuf[field]!, start, end);
      }
    }
    this.out[this.used++] = LF;
  }

  /** Canonical header (lds_hash first), no quotes: the record's own bytes, the issuance field rewritten. */
  private writePlainRow(line: number, bytes: Buffer, from: number, to: number): void {
    const start = this.fieldStart[ISSUANCE]!;
    const end = this.fieldEnd[ISSUANCE]!;
    this.reserve(16 + 2 * (to - from) + 16);
    this.appendNumber(line);
    this.out[this.used++] = COMMA;
    this.appendHexPrefix();
    this.used += bytes.copy(this.out, this.used, from, start);
    this.appendIssuanceLiteral(bytes, start, end);
    this.used += bytes.copy(this.out, this.used, end, to);
    this.out[this.used++] = LF;
  }

  private appendHexPrefix(): void {
    this.reserve(2);
    this.out[this.used++] = BACKSLASH;
    this.out[this.used++] = LOWER_X;
  }

  private appendNumber(value: number): void {
    const digits = value < 10 ? 1 : Math.floor(Math.log10(value)) + 1;
    for (let i = this.used + digits - 1; i >= this.used; i--) {
      this.out[i] = 0x30 + (value % 10);
      value = Math.floor(value / 10);
    }
    this.used += digits;
  }

  /** 'a/b c/d' (already valid) -> '"{""[a,b]"",""[c,d]""}"', the daterange[] input syntax quoted for CSV. */
  private appendIssuanceLiteral(buf: Buffer, start: number, end: number): void {
    if (end === start) return;
    this.reserve(2 * (end - start) + 16);
    const out = this.out;
    let at = this.used;
    out[at++] = QUOTE;
    out[at++] = 0x7b; // {
    out[at++] = QUOTE;
    out[at++] = QUOTE;
    out[at++] = 0x5b; // [
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c === 0x2f) out[at++] = COMMA;
      else if (c === 0x20) {
        out[at++] = 0x5d; // ]
        out[at++] = QUOTE;
        out[at++] = QUOTE;
        out[at++] = COMMA;
        out[at++] = QUOTE;
        out[at++] = QUOTE;
        out[at++] = 0x5b;
      } else out[at++] = c;
    }
    out[at++] = 0x5d;
    out[at++] = QUOTE;
    out[at++] = QUOTE;
    out[at++] = 0x7d; // }
    out[at++] = QUOTE;
    this.used = at;
  }

  private append(buf: Buffer, start: number, end: number): void {
    this.reserve(end - start + 2);
    // Fields are short: a plain loop beats a native copy call.
    const out = this.out;
    let at = this.used;
    for (let i = start; i < end; i++) out[at++] = buf[i]!;
    this.used = at;
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
