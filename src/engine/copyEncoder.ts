import { Transform, type TransformCallback } from 'node:stream';
import { CopyBinaryWriter } from './copyBinary.js';
import { COLUMNS, type ColumnName } from './participantSchema.js';
import { RecordScanner, type ScannedRecord } from './recordScanner.js';
import { booleanValue, closingDateValue as closingDateOf, identifier, readIntervals, type Check } from './rowRules.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const EMPTY = Buffer.alloc(0);

// encode writes the columns in this order (COPY_COLUMNS).
if (COLUMNS.join() !== 'lds_hash,case_id,participant_id,participant_closing_date,recent_benefit_issuance_dates,vulnerable_individual') {
  throw new Error('copyEncoder: the participant columns changed; encode writes them in the old order');
}

const CASE_ID = identifier(false);
const PARTICIPANT_ID = identifier(true);

/**
 * Each column's rule (rowRules) and binary value, in one step per field: writes the value (NULL for an empty field)
 * and returns undefined, or returns the rule's error code (the row is then rolled back). Called at fixed sites, each
 * for one column, so every call stays monomorphic (a table of them made one megamorphic call per field).
 */
function hashValue(out: CopyBinaryWriter, b: Buffer, start: number, end: number): string | undefined {
  if (end === start) return 'required';
  if (end - start !== 128) return 'invalid_format';
  return out.hexBytes(b, start, end) ? undefined : 'invalid_format';
}

function identifierValue(check: Check, out: CopyBinaryWriter, b: Buffer, start: number, end: number): string | undefined {
  const code = check(b, start, end);
  if (code !== undefined) return code;
  if (end === start) out.null();
  else out.text(b, start, end);
  return undefined;
}

function closingDateValue(out: CopyBinaryWriter, b: Buffer, start: number, end: number): string | undefined {
  if (end === start) return void out.null();
  const date = closingDateOf(b, start, end);
  return typeof date === 'string' ? date : void out.date(date);
}

function issuanceDatesValue(out: CopyBinaryWriter, b: Buffer, start: number, end: number): string | undefined {
  if (end === start) return void out.null();
  const count = readIntervals(b, start, end);
  return typeof count === 'string' ? count : void out.dateRanges(count);
}

function booleanValueOf(out: CopyBinaryWriter, b: Buffer, start: number, end: number): string | undefined {
  const code = booleanValue(b, start, end);
  if (code !== undefined) return code;
  if (end === start) out.null();
  else out.bool(b, start);
  return undefined;
}

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
  /** Each column's field in the record, in COLUMNS order; an absent column's is the always-empty slot after the header's. */
  private readonly columnField: number[];
  private readonly fields: number;
  private readonly fieldBuf: Buffer[];
  private readonly fieldStart: number[];
  private readonly fieldEnd: number[];
  /** Per field: whether its column's rule refuses a comma (every participant column's does; unknown columns are unchecked). */
  private readonly commaRefused: boolean[];
  /** Per field: its length in the last row, where guessFields looks for its delimiter first. */
  private readonly lastLength: number[];
  private readonly out = new CopyBinaryWriter();

  constructor(private readonly options: CopyEncoderOptions) {
    super();
    const n = options.header.length;
    this.fields = n;
    this.columnField = COLUMNS.map((column) => (options.header.includes(column) ? options.header.indexOf(column) : n));
    this.fieldBuf = new Array<Buffer>(n + 1).fill(EMPTY);
    this.fieldStart = new Array<number>(n + 1).fill(0);
    this.fieldEnd = new Array<number>(n + 1).fill(0);
    this.commaRefused = options.header.map((name) => (COLUMNS as readonly string[]).includes(name));
    this.lastLength = new Array<number>(n).fill(0);
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
    // Most rows: fields where the last row's were, written at once. Any surprise (and every row that breaks a rule) is
    // split exactly and checked again, so a row's errors never depend on the guess.
    if (!record.quoted && !record.strayCarriageReturn && this.guessFields(record.buf!, record.from, record.to) && this.writeRow(record, false)) return;
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
    if (!this.writeRow(record, true)) this.rowsRejected++;
  }

  /**
   * Writes the row from the fields' spans, each field checked as it is written. A row that fails a rule is taken back
   * (rows rarely fail): its failures are kept when `report`, else forgotten (a guessed split: see encode).
   */
  private writeRow(record: ScannedRecord, report: boolean): boolean {
    const { line } = record;
    const out = this.out;
    out.reserve(2 + record.to - record.from + 256);
    const mark = out.length;
    out.row(COPY_COLUMNS.length);
    out.int4(line);
    const hashAt = out.length + 4;
    const columnField = this.columnField; // in COLUMNS order, which the calls below follow (checked at load)
    const h = columnField[0]!;
    const c = columnField[1]!;
    const p = columnField[2]!;
    const d = columnField[3]!;
    const r = columnField[4]!;
    const v = columnField[5]!;
    const bufs = this.fieldBuf;
    const starts = this.fieldStart;
    const ends = this.fieldEnd;
    const failures = this.rejects.length;
    this.failed(line, 'lds_hash', hashValue(out, bufs[h]!, starts[h]!, ends[h]!));
    this.failed(line, 'case_id', identifierValue(CASE_ID, out, bufs[c]!, starts[c]!, ends[c]!));
    this.failed(line, 'participant_id', identifierValue(PARTICIPANT_ID, out, bufs[p]!, starts[p]!, ends[p]!));
    this.failed(line, 'participant_closing_date', closingDateValue(out, bufs[d]!, starts[d]!, ends[d]!));
    this.failed(line, 'recent_benefit_issuance_dates', issuanceDatesValue(out, bufs[r]!, starts[r]!, ends[r]!));
    this.failed(line, 'vulnerable_individual', booleanValueOf(out, bufs[v]!, starts[v]!, ends[v]!));
    if (this.rejects.length > failures) {
      out.rollback(mark);
      if (!report) this.rejects.length = failures;
      return false;
    }
    // lds_hash is required, so a row that passed the rules has it, decoded at hashAt.
    out.keyOf(hashAt);
    return true;
  }

  private failed(line: number, column: ColumnName, code: string | undefined): void {
    if (code !== undefined) this.rejects.push({ line, column, code });
  }

  private rejectRow(reject: RowReject): void {
    this.rowsRejected++;
    this.rejects.push(reject);
  }

  /**
   * Splits a record without quotes where the last row's fields ended, when a comma is there: most files repeat their
   * fields' lengths (a hash always has 128 digits), and a comparison costs far less than a search. A guess is only
   * taken for a field whose rule refuses commas, so when every rule passes no field held a comma and the split was
   * exact; a field of an unknown column, or a miss, is searched. False when the record has too few fields.
   */
  private guessFields(bytes: Buffer, from: number, to: number): boolean {
    const last = this.fields - 1;
    const lengths = this.lastLength;
    const refused = this.commaRefused;
    let start = from;
    for (let field = 0; ; field++) {
      let end = start + lengths[field]!;
      if (field === last) {
        end = to; // a comma left in it fails its rule, or is found here
        if (!refused[field]) {
          const comma = bytes.indexOf(COMMA, start);
          if (comma >= 0 && comma < to) return false;
        }
      } else if (!(refused[field] && end < to && bytes[end] === COMMA)) {
        end = bytes.indexOf(COMMA, start);
        if (end < 0 || end >= to) return false;
      }
      this.fieldBuf[field] = bytes;
      this.fieldStart[field] = start;
      this.fieldEnd[field] = end;
      lengths[field] = end - start;
      if (field === last) return true;
      start = end + 1;
    }
  }

  /** splitFields for a record without quotes: native searches for the delimiters. */
  private splitPlainFields(bytes: Buffer, from: number, to: number): number {
    const capacity = this.fields;
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
    const capacity = this.fields;
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
