/**
 * The participant column rules, checked on the raw bytes of a field (no strings are made for valid
 * values). Each check returns an error code or undefined. Measured: PostgreSQL's regex engine needs
 * ~9 us a row for these rules set-based; on bytes here they cost well under 1 us.
 */
export type Check = (b: Buffer, start: number, end: number) => string | undefined;

const DASH = 0x2d;
const SLASH = 0x2f;
const SPACE = 0x20;


/** Byte classes as lookup tables: one load per byte in the hot loops. */
function byteClass(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}
const IDENTIFIER = byteClass('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_');

/**
 * Two lowercase hex digits (first byte << 8 | second) -> the byte they write, -1 for any other pair: the hash is
 * checked and decoded a pair at a time, one load each (copyBinary decodes with it as it checks).
 */
export const HEX_PAIRS = new Int16Array(65536).fill(-1);
for (let hi = 0; hi < 16; hi++) {
  for (let lo = 0; lo < 16; lo++) HEX_PAIRS[('0123456789abcdef'.charCodeAt(hi) << 8) | '0123456789abcdef'.charCodeAt(lo)] = (hi << 4) | lo;
}

/** lds_hash: required, exactly 128 lowercase hex characters (SHA-512). */
export const ldsHash: Check = (b, start, end) => {
  if (end === start) return 'required';
  if (end - start !== 128) return 'invalid_format';
  for (let i = start; i < end; i += 2) if (HEX_PAIRS[(b[i]! << 8) | b[i + 1]!]! < 0) return 'invalid_format';
  return undefined;
};

/** case_id / participant_id: ^[A-Za-z0-9-_]+$, at most 20 characters. */
export function identifier(required: boolean): Check {
  return (b, start, end) => {
    if (end === start) return required ? 'required' : undefined;
    for (let i = start; i < end; i++) if (IDENTIFIER[b[i]!] === 0) return 'invalid_format';
    return end - start > 20 ? 'too_long' : undefined;
  };
}

// Outside every day number of years 1-9999 (about +-2.9M), and small integers (no heap number each time).
const INVALID_FORMAT = -1e8;
const INVALID_DATE = -2e8;

/** Where the last scanDate stopped: the index after the date's last digit (module state: no object per date). */
let scanEnd = 0;

/**
 * A date YYYY-MM-DD (month and day of 1 or 2 digits when `short`) read from `start`, as its day number (days since
 * 1970-01-01, which compare as the dates do), or INVALID_FORMAT / INVALID_DATE (not a calendar date; year 0 does not
 * exist, as in PostgreSQL). It stops at the first byte after the day's digits (scanEnd) and reads nothing at or
 * after `end`: a caller decides what may follow (the field's end, `/`, a space), so a field is read in one pass.
 */
function scanDate(b: Buffer, start: number, end: number, short: boolean): number {
  if (end - start < 8) return INVALID_FORMAT; // the shortest date, YYYY-M-D
  let year = 0;
  for (let i = start; i < start + 4; i++) {
    const digit = b[i]! - 0x30;
    if (digit < 0 || digit > 9) return INVALID_FORMAT;
    year = year * 10 + digit;
  }
  if (b[start + 4] !== DASH) return INVALID_FORMAT;
  let i = start + 5;
  let month = 0;
  let digits = 0;
  for (; i < end && digits < 3; i++, digits++) {
    const digit = b[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    month = month * 10 + digit;
  }
  if ((digits !== 2 && !(digits === 1 && short)) || i === end || b[i] !== DASH) return INVALID_FORMAT;
  let day = 0;
  digits = 0;
  for (i++; i < end && digits < 3; i++, digits++) {
    const digit = b[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    day = day * 10 + digit;
  }
  if (digits !== 2 && !(digits === 1 && short)) return INVALID_FORMAT;
  scanEnd = i;
  if (year === 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return INVALID_DATE;
  return daysFromCivil(year, month, day);
}

/** A date that is the whole of [start, end) (see scanDate). */
function parseDate(b: Buffer, start: number, end: number, short: boolean): number {
  const date = scanDate(b, start, end, short);
  return date === INVALID_FORMAT || scanEnd !== end ? INVALID_FORMAT : date;
}

/** Days since 1970-01-01 of a proleptic Gregorian date of year 1 or later (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year; // >= 0
  const era = (y / 400) | 0;
  const yoe = y - era * 400;
  const doy = (((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) | 0) + day - 1;
  const doe = yoe * 365 + ((yoe / 4) | 0) - ((yoe / 100) | 0) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** participant_closing_date: optional ISO date YYYY-MM-DD, a real calendar date. */
export const closingDate: Check = (b, start, end) => {
  if (end === start) return undefined;
  const date = closingDateValue(b, start, end);
  return typeof date === 'string' ? date : undefined;
};

/** A non-empty closing date's rule (see closingDate): the date's day number (days since 1970-01-01), or the error code. */
export function closingDateValue(b: Buffer, start: number, end: number): number | string {
  const date = parseDate(b, start, end, false);
  return date === INVALID_FORMAT ? 'invalid_format' : date === INVALID_DATE ? 'invalid_date' : date;
}

export const MAX_INTERVALS = 3;

/** The dates readIntervals found (day numbers, from and to of each interval in turn); reused, valid until the next call. */
export const INTERVAL_DATES = new Int32Array(2 * MAX_INTERVALS);

/**
 * recent_benefit_issuance_dates: up to 3 space-separated intervals YYYY-M-D/YYYY-M-D, real dates,
 * start <= end. The format of every interval is checked first, then the count, then each interval.
 */
export const issuanceDates: Check = (b, start, end) => {
  if (end === start) return undefined;
  const read = readIntervals(b, start, end);
  return typeof read === 'string' ? read : undefined;
};

/**
 * A non-empty issuance field's rule (see issuanceDates): its intervals' count, their dates in INTERVAL_DATES, or the
 * error code. One pass: each interval is a date, `/`, a date, then a space and the next interval or the field's end.
 */
export function readIntervals(b: Buffer, start: number, end: number): number | string {
  const dates = INTERVAL_DATES;
  let count = 0;
  for (let at = start; ; at++) {
    const from = scanDate(b, at, end, true);
    if (from === INVALID_FORMAT || scanEnd === end || b[scanEnd] !== SLASH) return 'invalid_format';
    const to = scanDate(b, scanEnd + 1, end, true);
    if (to === INVALID_FORMAT || (scanEnd !== end && b[scanEnd] !== SPACE)) return 'invalid_format';
    if (count < MAX_INTERVALS) {
      dates[2 * count] = from;
      dates[2 * count + 1] = to;
    }
    count++;
    at = scanEnd; // at the space before the next interval (the loop steps past it), or the end
    if (at === end) break;
  }
  if (count > MAX_INTERVALS) return 'too_many_intervals';
  for (let i = 0; i < 2 * count; i += 2) {
    if (dates[i] === INVALID_DATE || dates[i + 1] === INVALID_DATE) return 'invalid_date';
    if (dates[i]! > dates[i + 1]!) return 'invalid_interval';
  }
  return count;
}

/** vulnerable_individual: exactly true or false, or empty. */
export const booleanValue: Check = (b, start, end) => {
  if (end === start) return undefined;
  const length = end - start;
  if (length === 4 && b[start] === 0x74 && b[start + 1] === 0x72 && b[start + 2] === 0x75 && b[start + 3] === 0x65) return undefined; // true
  if (length === 5 && b[start] === 0x66 && b[start + 1] === 0x61 && b[start + 2] === 0x6c && b[start + 3] === 0x73 && b[start + 4] === 0x65) {
    return undefined; // false
  }
  return 'invalid_boolean';
};
