import { HEX_PAIRS, INTERVAL_DATES } from './rowRules.js';

/**
 * PostgreSQL's binary COPY format, written from the bytes of fields the row rules have already accepted.
 * Binary input skips PostgreSQL's text parsing: for the daterange[] column alone (array_in -> range_in ->
 * date_in per bound) that was about a third of the server's COPY time, and lds_hash goes as its 64 bytes.
 */

/** `PGCOPY\n\377\r\n\0`, flags 0, no header extension. */
const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The pg_type oid of daterange, which an array's binary form names (fixed for built-in types). */
const DATERANGE_OID = 3912;
/** range_send flags: lower bound inclusive (the upper one is then exclusive, daterange's canonical form). */
const RANGE_LB_INC = 0x02;
/** Days from 1970-01-01 to 2000-01-01, PostgreSQL's date epoch. */
const PG_EPOCH_DAYS = 10957;


/** A DataView over exactly a Buffer's bytes: big-endian integers in one call (a byte at a time cost a store each). */
function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.length);
}

/** Builds one COPY (FORMAT binary) stream: call `begin` once, rows of fields, then `finish`; `take` hands over bytes. */
export class CopyBinaryWriter {
  private out = Buffer.allocUnsafe(256 * 1024);
  private view = viewOf(this.out);
  private used = 0;
  /** The input buffer hexBytes last read, and a view of it (rows come from the same input buffer for a while). */
  private input: Buffer | undefined;
  private inputView: DataView | undefined;

  get length(): number {
    return this.used;
  }

  begin(): void {
    this.reserve(SIGNATURE.length);
    this.used += SIGNATURE.copy(this.out, this.used);
  }

  /** Starts a row of `fields` fields (after `reserve` for all the row will write). */
  row(fields: number): void {
    this.view.setInt16(this.used, fields);
    this.used += 2;
  }

  null(): void {
    this.int32(-1);
  }

  int4(value: number): void {
    this.int32(4);
    this.int32(value);
  }

  /** A text value: its bytes as they are. */
  text(b: Buffer, start: number, end: number): void {
    this.int32(end - start);
    // Fields are short: a plain loop beats a native copy call.
    const out = this.out;
    let at = this.used;
    for (let i = start; i < end; i++) out[at++] = b[i]!;
    this.used = at;
  }

  /**
   * A bytea from lowercase hex digits, `end - start` a multiple of 8, checked as it is decoded: false when any pair is
   * not two lowercase hex digits (what was written is then garbage: the caller rolls the row back). Eight digits are
   * read as two big-endian words and their four bytes written as one: a third of the loads and stores of a pair at a
   * time.
   */
  hexBytes(b: Buffer, start: number, end: number): boolean {
    this.int32((end - start) >> 1);
    if (this.input !== b) {
      this.input = b;
      this.inputView = viewOf(b);
    }
    const input = this.inputView!;
    const view = this.view;
    let at = this.used;
    let invalid = 0; // negative once any pair was not hex (HEX_PAIRS gives -1)
    for (let i = start; i < end; i += 8) {
      const high = input.getUint32(i);
      const low = input.getUint32(i + 4);
      const b0 = HEX_PAIRS[high >>> 16]!;
      const b1 = HEX_PAIRS[high & 0xffff]!;
      const b2 = HEX_PAIRS[low >>> 16]!;
      const b3 = HEX_PAIRS[low & 0xffff]!;
      invalid |= b0 | b1 | b2 | b3;
      view.setInt32(at, (b0 << 24) | (b1 << 16) | (b2 << 8) | b3);
      at += 4;
    }
    this.used = at;
    return invalid >= 0;
  }

  /**
   * The lookup key of a hash written at `at` (by hexBytes): its first 8 bytes as an int8 (big-endian two's complement,
   * PostgreSQL's binary form, so SQL's bulkflow.lds_key(lds_hash) gives the same value).
   */
  keyOf(at: number): void {
    const view = this.view;
    this.int32(8);
    view.setInt32(this.used, view.getInt32(at));
    view.setInt32(this.used + 4, view.getInt32(at + 4));
    this.used += 8;
  }

  /** A date given as days since 1970-01-01 (the row rules' day number). */
  date(day: number): void {
    this.int4(day - PG_EPOCH_DAYS);
  }

  /** A boolean written `true` or `false`. */
  bool(b: Buffer, start: number): void {
    this.int32(1);
    this.out[this.used++] = b[start] === 0x74 ? 1 : 0;
  }

  /** daterange[] of the first `count` intervals in INTERVAL_DATES (inclusive), each stored as [from, to + 1 day). */
  dateRanges(count: number): void {
    this.int32(20 + count * 21); // the array header, then per range its length, flags and two bounds with their lengths
    this.int32(1); // dimensions
    this.int32(0); // no nulls
    this.int32(DATERANGE_OID);
    this.int32(count);
    this.int32(1); // lower bound of the dimension
    for (let i = 0; i < 2 * count; i += 2) {
      this.int32(1 + 8 + 8);
      this.out[this.used++] = RANGE_LB_INC;
      this.int4(INTERVAL_DATES[i]! - PG_EPOCH_DAYS);
      this.int4(INTERVAL_DATES[i + 1]! - PG_EPOCH_DAYS + 1);
    }
  }

  /** Takes back what was written since `length` was `mark` (a row that failed a rule as it was written). */
  rollback(mark: number): void {
    this.used = mark;
  }

  finish(): void {
    this.reserve(2);
    this.view.setInt16(this.used, -1);
    this.used += 2;
  }

  /** The bytes written since the last take; writing continues in a fresh buffer (the old one is not reused). */
  take(): Buffer {
    const bytes = this.out.subarray(0, this.used);
    this.out = Buffer.allocUnsafe(this.out.length);
    this.view = viewOf(this.out);
    this.used = 0;
    return bytes;
  }

  private int32(value: number): void {
    this.view.setInt32(this.used, value);
    this.used += 4;
  }

  /** Makes room for `extra` more bytes. */
  reserve(extra: number): void {
    if (this.used + extra <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.used + extra));
    this.out.copy(bigger, 0, 0, this.used);
    this.out = bigger;
    this.view = viewOf(bigger);
  }
}
