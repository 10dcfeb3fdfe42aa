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

const DASH = 0x2d;
const SLASH = 0x2f;
const SPACE = 0x20;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** A valid `YYYY-M-D` (month and day of one or two digits) as PostgreSQL's date: days since 2000-01-01. */
export function pgDate(b: Buffer, start: number, end: number): number {
  const year = (b[start]! - 0x30) * 1000 + (b[start + 1]! - 0x30) * 100 + (b[start + 2]! - 0x30) * 10 + (b[start + 3]! - 0x30);
  let i = start + 5;
  let month = 0;
  while (b[i] !== DASH) month = month * 10 + b[i++]! - 0x30;
  let day = 0;
  for (i++; i < end; i++) day = day * 10 + b[i]! - 0x30;
  return daysFromCivil(year, month, day) - PG_EPOCH_DAYS;
}

/** Builds one COPY (FORMAT binary) stream: call `begin` once, rows of fields, then `finish`; `take` hands over bytes. */
export class CopyBinaryWriter {
  private out = Buffer.allocUnsafe(256 * 1024);
  private used = 0;

  get length(): number {
    return this.used;
  }

  begin(): void {
    this.reserve(SIGNATURE.length);
    this.used += SIGNATURE.copy(this.out, this.used);
  }

  /** Starts a row of `fields` fields; `maxBytes` bounds what the row's fields will write. */
  row(fields: number, maxBytes: number): void {
    this.reserve(2 + maxBytes);
    this.out.writeInt16BE(fields, this.used);
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

  /** A bytea from lowercase hex digits. */
  hexBytes(b: Buffer, start: number, end: number): void {
    const length = (end - start) >> 1;
    this.int32(length);
    const out = this.out;
    let at = this.used;
    for (let i = start; i < end; i += 2) out[at++] = (HEX[b[i]!]! << 4) | HEX[b[i + 1]!]!;
    this.used = at;
  }

  /**
   * The lookup key of a hash written as lowercase hex digits: its first 8 bytes as an int8 (big-endian two's complement,
   * PostgreSQL's binary form, so SQL's bulkflow.lds_key(lds_hash) gives the same value).
   */
  hexKey(b: Buffer, start: number): void {
    this.int32(8);
    const out = this.out;
    let at = this.used;
    for (let i = start; i < start + 16; i += 2) out[at++] = (HEX[b[i]!]! << 4) | HEX[b[i + 1]!]!;
    this.used = at;
  }

  /** A date written `YYYY-M-D`. */
  date(b: Buffer, start: number, end: number): void {
    this.int4(pgDate(b, start, end));
  }

  /** A boolean written `true` or `false`. */
  bool(b: Buffer, start: number): void {
    this.int32(1);
    this.out[this.used++] = b[start] === 0x74 ? 1 : 0;
  }

  /** daterange[] from space-separated inclusive intervals `from/to`, each stored as [from, to + 1 day). */
  dateRanges(b: Buffer, start: number, end: number): void {
    const lengthAt = this.used;
    this.used += 4;
    const countAt = this.used + 12;
    this.int32(1); // dimensions
    this.int32(0); // no nulls
    this.int32(DATERANGE_OID);
    this.int32(0); // count, filled in below
    this.int32(1); // lower bound of the dimension
    let count = 0;
    for (let token = start; token < end; ) {
      let stop = token;
      while (stop < end && b[stop] !== SPACE) stop++;
      let slash = token;
      while (b[slash] !== SLASH) slash++;
      this.int32(1 + 8 + 8); // flags, then two bounds of 4 bytes each with their lengths
      this.out[this.used++] = RANGE_LB_INC;
      this.int4(pgDate(b, token, slash));
      this.int4(pgDate(b, slash + 1, stop) + 1);
      count++;
      token = stop + 1;
    }
    this.out.writeInt32BE(count, countAt);
    this.out.writeInt32BE(this.used - lengthAt - 4, lengthAt);
  }

  finish(): void {
    this.reserve(2);
    this.out.writeInt16BE(-1, this.used);
    this.used += 2;
  }

  /** The bytes written since the last take; writing continues in a fresh buffer (the old one is not reused). */
  take(): Buffer {
    const bytes = this.out.subarray(0, this.used);
    this.out = Buffer.allocUnsafe(this.out.length);
    this.used = 0;
    return bytes;
  }

  private int32(value: number): void {
    const out = this.out;
    const at = this.used;
    out[at] = value >>> 24;
    out[at + 1] = value >>> 16;
    out[at + 2] = value >>> 8;
    out[at + 3] = value;
    this.used = at + 4;
  }

  private reserve(extra: number): void {
    if (this.used + extra <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.used + extra));
    this.out.copy(bigger, 0, 0, this.used);
    this.out = bigger;
  }
}
