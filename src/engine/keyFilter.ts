import type pg from 'pg';
import { escapeLiteral } from 'pg';
import { readBytea, readRawRows } from './byteaReads.js';
import { type Queryable, uploadTable } from './db.js';

/**
 * A Bloom filter of one upload's lookup keys (lds_key: the first 8 bytes of lds_hash). A real-time query probes only
 * the uploads that may hold a hash, and match analysis looks up in the tables only the keys another upload may hold,
 * instead of merging whole indexes: a key costs one probe per other upload, in memory.
 *
 * The layout is the split-block Bloom filter Apache Parquet specifies: a key sets one bit in each of the eight 32-bit
 * words of one 256-bit block, so a probe reads one cache line. The block comes from the key's high 32 bits, in the
 * order PostgreSQL sorts the keys (signed), so keys read from the lookup index build and probe a filter front to back,
 * at memory speed however large it is (a standard Bloom filter's random reads made a 5.4M-key build 12x a 1M one). The
 * keys are already uniformly random (a SHA-512 prefix): no further hashing. 24 bits per key: false positives 0.018 %;
 * 5.4M keys (California) take 16.2 MB. Each false positive is a key looked up in two tables for nothing: at 16 bits
 * (0.13 %) California's run against 52 states looked up 377k candidate keys, ~97 % of them false positives. Filters
 * keep the size they were built with (the probe reads it from the stored bytes), so older ones stay valid.
 */
export const FILTER_BITS_PER_KEY = 24;

const WORDS_PER_BLOCK = 8; // blockOf's << 3
/** Parquet's salts: word i's bit is the top 5 bits of (low 32 bits of the key) x SALT[i]. */
const SALT = Uint32Array.of(0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31);

/** Lookup keys as pairs of 32-bit words (high, low) in one array: what the filters read, without a Buffer per key. */
export type KeyWords = Uint32Array;

/** The blocks of a filter of `keys` keys. */
function filterBlocks(keys: number, bitsPerKey = FILTER_BITS_PER_KEY): number {
  return Math.max(1, Math.ceil((keys * bitsPerKey) / (32 * WORDS_PER_BLOCK)));
}

/** Bytes per block as stored. */
const BLOCK_BYTES = 4 * WORDS_PER_BLOCK;

/** The stored size of filters of these numbers of blocks. */
export function filterBytes(blocks: readonly number[]): number {
  return blocks.reduce((sum, count) => sum + count * BLOCK_BYTES, 0);
}

/**
 * A filter, or a window of consecutive blocks of one (`firstBlock` on, of `blocks` in all): the window answers for
 * keys between two keys (blockRange), so a probe of keys in a key range needs only that part of each filter.
 */
export class KeyFilter {
  /** Blocks per value of the high word: block = floor(high' x blocks / 2^32), high' the high word in signed order. */
  private readonly scale: number;
  private readonly firstWord: number;

  private constructor(
    readonly words: Uint32Array,
    readonly blocks = words.length / WORDS_PER_BLOCK,
    readonly firstBlock = 0,
  ) {
    this.scale = blocks / 2 ** 32;
    this.firstWord = firstBlock * WORDS_PER_BLOCK;
  }

  static empty(keys: number, bitsPerKey = FILTER_BITS_PER_KEY): KeyFilter {
    return new KeyFilter(new Uint32Array(WORDS_PER_BLOCK * filterBlocks(keys, bitsPerKey)));
  }

  /**
   * A filter as stored (bytes()): 32-bit words, little-endian; or the window of it from `firstBlock` of a filter of
   * `blocks` blocks (a substring of the stored bytes, see blockRange).
   */
  static of(stored: Uint8Array, window?: { blocks: number; firstBlock: number }): KeyFilter {
    if (stored.length === 0 || stored.length % BLOCK_BYTES !== 0) throw new Error(`key filter: ${stored.length} bytes is not a whole number of blocks`);
    const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
    const words = new Uint32Array(stored.length / 4);
    for (let i = 0; i < words.length; i++) words[i] = view.getUint32(i * 4, true);
    return window ? new KeyFilter(words, window.blocks, window.firstBlock) : new KeyFilter(words);
  }

  /**
   * A window (or filter) over words already in memory, not copied: the candidate probe's worker reads the windows a
   * range needs from memory it shares with the main thread.
   */
  static ofWords(words: Uint32Array, window: { blocks: number; firstBlock: number }): KeyFilter {
    return new KeyFilter(words, window.blocks, window.firstBlock);
  }

  /**
   * The stored bytes (offset and length) of the blocks of a filter of `blocks` blocks that answer for the keys from
   * `first` to `last` (their high words; first <= last in key order).
   */
  static blockRange(blocks: number, first: number, last: number): { firstBlock: number; offset: number; length: number } {
    const probe = new KeyFilter(new Uint32Array(0), blocks);
    const firstBlock = probe.blockOf(first) / WORDS_PER_BLOCK;
    const lastBlock = probe.blockOf(last) / WORDS_PER_BLOCK;
    return { firstBlock, offset: firstBlock * BLOCK_BYTES, length: (lastBlock - firstBlock + 1) * BLOCK_BYTES };
  }

  bytes(): Buffer {
    const stored = Buffer.alloc(this.words.length * 4);
    for (let i = 0; i < this.words.length; i++) stored.writeUInt32LE(this.words[i]!, i * 4);
    return stored;
  }

  addAll(keys: KeyWords): void {
    const words = this.words;
    for (let i = 0; i + 1 < keys.length; i += 2) {
      const first = this.blockOf(keys[i]!);
      const low = keys[i + 1]!;
      for (let w = 0; w < WORDS_PER_BLOCK; w++) words[first + w]! |= 1 << (Math.imul(low, SALT[w]!) >>> 27);
    }
  }

  /** False: no key added had these first 8 bytes. True: one may have (then the index says). */
  mayHold(hash: Buffer): boolean {
    return this.holds(hash.readUInt32BE(0), hash.readUInt32BE(4));
  }

  /** The positions (key numbers) of the keys that may be held, in the order given. */
  mayHoldOf(keys: KeyWords): number[] {
    const found: number[] = [];
    const n = keys.length >>> 1;
    for (let i = 0; i < n; i++) if (this.holds(keys[2 * i]!, keys[2 * i + 1]!)) found.push(i);
    return found;
  }

  /** All eight words tested without a branch: an early exit per word mispredicted about every other probe. */
  private holds(high: number, low: number): boolean {
    const words = this.words;
    const first = this.blockOf(high);
    const bit = (w: number) => words[first + w]! >>> (Math.imul(low, SALT[w]!) >>> 27);
    return (bit(0) & bit(1) & bit(2) & bit(3) & bit(4) & bit(5) & bit(6) & bit(7) & 1) !== 0;
  }

  /**
   * The first word of the key's block in `words`. Flipping the sign bit puts the blocks in the keys' signed order. The
   * product is below `blocks` (rounded to within blocks x 2^-53 of high' x blocks / 2^32 <= blocks - blocks / 2^32)
   * and below 2^28.
   */
  private blockOf(high: number): number {
    return ((((high ^ 0x80000000) >>> 0) * this.scale) << 3) - this.firstWord;
  }
}

/**
 * Keys per range read (about): 2 MB of keys per statement. At a million per statement, building eleven 1M-key filters
 * and one match run's candidates left a process at 157 MiB after a full GC, against 116 MiB at this size: large
 * buffers freed are memory the allocator keeps.
 */
const KEYS_PER_RANGE = 250_000;
/**
 * Filter bytes read per range (about), over all the windows a range needs: a small upload's one range would otherwise
 * read every other upload's whole filter in one statement (110 MB, 220 MB as hex text, at national scale).
 */
const WINDOW_BYTES_PER_RANGE = 4 * 1024 * 1024;

/** The ranges to read `keys` keys in, with `windowBytes` of other filters to probe them against. */
export function rangesFor(keys: number, windowBytes = 0): number {
  return Math.max(1, Math.ceil(keys / KEYS_PER_RANGE), Math.ceil(windowBytes / WINDOW_BYTES_PER_RANGE));
}

/**
 * One part of the key space: the keys from `from` to `to` (bigint text, inclusive), whose high words run from
 * `firstHigh` to `lastHigh` (in key order). Cut by the high word alone, so a range and the blocks of any filter that
 * answer for it are known before its keys are read.
 */
export interface KeyRange {
  from: string;
  to: string;
  firstHigh: number;
  lastHigh: number;
}

/** The signed 64-bit key space in `parts` equal parts (the keys are uniformly random: about as many in each). */
function keyRanges(parts: number): KeyRange[] {
  // Part j: high words h' (the sign bit flipped, so h' runs in key order) from floor(j x 2^32 / parts).
  const start = (j: number) => Math.floor((j * 2 ** 32) / parts);
  return Array.from({ length: parts }, (_, j) => ({
    from: (BigInt(start(j) - 2 ** 31) << 32n).toString(),
    to: ((BigInt(start(j + 1) - 2 ** 31) << 32n) - 1n).toString(),
    firstHigh: (start(j) ^ 0x80000000) >>> 0,
    lastHigh: ((start(j + 1) - 1) ^ 0x80000000) >>> 0,
  }));
}

/**
 * Every lookup key of an upload, each once, in key order, from its lookup index alone (the table was vacuumed at
 * activation), in `parts` ranges (rangesFor), handed to `visit` a range at a time with what `alongside` fetched for
 * that range: a caller holds a range or two, never all of an upload's keys. The next range's statements are sent
 * before `visit` runs, so PostgreSQL reads ahead while Node works.
 */
export async function forEachKeyRange<T>(
  db: Queryable,
  uploadId: string,
  parts: number,
  visit: (keys: KeyWords, fetched: T) => unknown,
  alongside: (range: KeyRange) => Promise<T>,
): Promise<void> {
  const table = uploadTable(uploadId).qualified;
  const read = (range: KeyRange) => {
    const both = Promise.all([
      readBytea(
        db,
        `SELECT string_agg(int8send(lds_key), ''::bytea)
           FROM (SELECT lds_key FROM ${table} WHERE lds_key BETWEEN '${range.from}'::bigint AND '${range.to}'::bigint ORDER BY lds_key) k`,
      ),
      alongside(range),
    ]);
    both.catch(() => undefined); // awaited below; a failure while `visit` runs is not an unhandled rejection
    return both;
  };
  const ranges = keyRanges(parts);
  let next = read(ranges[0]!);
  for (let j = 0; j < ranges.length; j++) {
    const [bytes, fetched] = await next;
    if (j + 1 < ranges.length) next = read(ranges[j + 1]!);
    const words = keyWords(bytes);
    if (words.length > 0) await visit(words, fetched);
  }
}

/** Keys packed as 8-byte big-endian strings, as (high, low) words; a key repeated next to itself comes once (in key order: each key once). */
function keyWords(bytes: Buffer | null): KeyWords {
  if (!bytes) return new Uint32Array(0);
  const words = new Uint32Array(bytes.length / 4);
  let length = 0;
  for (let offset = 0; offset < bytes.length; offset += 8) {
    const high = bytes.readUInt32BE(offset);
    const low = bytes.readUInt32BE(offset + 4);
    if (length > 0 && words[length - 1] === low && words[length - 2] === high) continue;
    words[length++] = high;
    words[length++] = low;
  }
  return words.subarray(0, length);
}

/**
 * Builds the upload's key filter and stores it, once: a repeated activation finds it, and match analysis builds the
 * filter of an upload that has none. Sized for `keys` keys, by default the rows the finalized upload holds. Returns
 * its number of blocks.
 */
export async function ensureKeyFilter(db: Queryable, uploadId: string, keys?: number): Promise<number> {
  const [stored] = await storedBlocks(db, [uploadId]);
  return stored ?? buildKeyFilter(db, uploadId, keys);
}

async function buildKeyFilter(db: Queryable, uploadId: string, keys?: number): Promise<number> {
  const size = keys ?? (await finalizedRows(db, uploadId));
  const filter = KeyFilter.empty(size);
  await forEachTablePart(db, uploadId, rangesFor(size), (part) => filter.addAll(part));
  await db.query(
    'INSERT INTO bulkflow.upload_key_filters (upload_id, keys, bits) VALUES ($1, $2, $3) ON CONFLICT (upload_id) DO NOTHING',
    [uploadId, size, filter.bytes()],
  );
  return filter.blocks;
}

/**
 * Every lookup key of an upload's table, read from its pages in `parts` runs of blocks (a TID range each, the last one
 * open-ended), in page order, not key order: no index is needed, so activation builds the filter beside its VACUUM
 * (reads and VACUUM do not lock each other out) instead of after the lookup index. The filter takes keys in any
 * order; out of key order its inserts miss the cache (5.4M keys: ~1 s more), which the VACUUM beside it hides. The
 * next run's statement is sent before `visit` runs.
 */
async function forEachTablePart(db: Queryable, uploadId: string, parts: number, visit: (keys: KeyWords) => unknown): Promise<void> {
  const table = uploadTable(uploadId).qualified;
  const { rows: [size] } = await db.query<{ blocks: number }>(
    `SELECT (pg_relation_size('${table}') / current_setting('block_size')::int)::int AS blocks`,
  );
  const { blocks } = size!;
  const step = Math.max(1, Math.ceil(blocks / parts));
  const read = (first: number) => {
    const upTo = first + step < blocks ? ` AND ctid < '(${first + step},0)'::tid` : '';
    const bytes = readBytea(db, `SELECT string_agg(int8send(lds_key), ''::bytea) FROM ${table} WHERE ctid >= '(${first},0)'::tid${upTo}`);
    bytes.catch(() => undefined); // awaited below; a failure while `visit` runs is not an unhandled rejection
    return bytes;
  };
  let next = read(0);
  for (let first = 0; first < Math.max(1, blocks); first += step) {
    const bytes = await next;
    if (first + step < blocks) next = read(first + step);
    const words = keyWords(bytes);
    if (words.length > 0) await visit(words);
  }
}

/** Each upload's filter size in blocks, as stored; undefined for an upload without one. */
async function storedBlocks(db: Queryable, uploadIds: readonly string[]): Promise<Array<number | undefined>> {
  const { rows } = await db.query<{ upload_id: string; blocks: number }>(
    `SELECT upload_id, octet_length(bits) / ${BLOCK_BYTES} AS blocks FROM bulkflow.upload_key_filters WHERE upload_id = ANY($1)`,
    [uploadIds],
  );
  const blocks = new Map(rows.map((row) => [row.upload_id, row.blocks]));
  return uploadIds.map((uploadId) => blocks.get(uploadId));
}

/** The filter sizes in blocks of the uploads (in one statement), building any an upload lacks. */
export async function ensureKeyFilters(db: Queryable, uploadIds: readonly string[]): Promise<number[]> {
  const stored = await storedBlocks(db, uploadIds);
  const blocks: number[] = [];
  for (const [i, uploadId] of uploadIds.entries()) blocks.push(stored[i] ?? (await buildKeyFilter(db, uploadId)));
  return blocks;
}

/** The rows a finalized upload holds (duplicates removed). */
export async function finalizedRows(db: Queryable, uploadId: string): Promise<number> {
  const { rows: [upload] } = await db.query<{ rows: string | null }>('SELECT rows_committed AS rows FROM bulkflow.uploads WHERE upload_id = $1', [uploadId]);
  if (upload?.rows == null) throw new Error(`key filter: upload ${uploadId} is not finalized`);
  return Number(upload.rows);
}

/**
 * The windows of the uploads' stored filters (`blocks[i]` blocks for `uploadIds[i]`) that answer for the keys of
 * `range`, in one statement: each a substring of the stored bytes, which are kept uncompressed for that, read as bytes
 * (readRawRows), not as hex text.
 */
export async function keyFilterWindows(db: Queryable, uploadIds: readonly string[], blocks: readonly number[], range: KeyRange): Promise<KeyFilter[]> {
  const parts = blocks.map((count) => KeyFilter.blockRange(count, range.firstHigh, range.lastHigh));
  const list = (values: ReadonlyArray<string | number>, type: string) => `ARRAY[${values.join(', ')}]::${type}[]`;
  const ids = list(uploadIds.map(escapeLiteral), 'text');
  const starts = list(parts.map((part) => part.offset + 1), 'int');
  const lengths = list(parts.map((part) => part.length), 'int');
  const rows = await readRawRows(
    db,
    `SELECT w.upload_id, substring(f.bits FROM w.start FOR w.length)
     FROM unnest(${ids}, ${starts}, ${lengths}) w (upload_id, start, length) JOIN bulkflow.upload_key_filters f USING (upload_id)`,
  );
  const bits = new Map(rows.map(([uploadId, window]) => [uploadId!.toString(), window!]));
  return uploadIds.map((uploadId, i) => {
    const stored = bits.get(uploadId);
    if (!stored) throw new Error(`key filter: upload ${uploadId} has none`);
    return KeyFilter.of(stored, { blocks: blocks[i]!, firstBlock: parts[i]!.firstBlock });
  });
}

/** Filters of immutable uploads, per pool: an upload's keys never change once it is active. */
const cached = new WeakMap<pg.Pool, Map<string, Promise<KeyFilter | null>>>();

/**
 * The key filters of the given uploads (null for an upload without one yet: it is probed for every hash). Loaded once
 * per process and pool through `db`, and kept while the upload is active; a missing one is looked for again next time.
 */
export async function keyFilters(pool: pg.Pool, db: Queryable, uploadIds: readonly string[]): Promise<Map<string, KeyFilter | null>> {
  let byUpload = cached.get(pool);
  if (!byUpload) cached.set(pool, (byUpload = new Map()));
  const wanted = new Set(uploadIds);
  for (const uploadId of byUpload.keys()) if (!wanted.has(uploadId)) byUpload.delete(uploadId);
  let previous: Promise<unknown> = Promise.resolve();
  for (const uploadId of uploadIds) {
    if (byUpload.has(uploadId)) continue;
    // One statement per upload, one after another on the caller's connection (a query holding one never waits for
    // another): a first query at national scale loads ~127 MB, never all of it in one answer.
    const one = previous
      .then(() => readBytea(db, `SELECT bits FROM bulkflow.upload_key_filters WHERE upload_id = ${escapeLiteral(uploadId)}`))
      .then((bits) => (bits ? KeyFilter.of(bits) : null));
    previous = one.catch(() => undefined);
    byUpload.set(uploadId, one);
    // A failed load, or a filter not built yet (match analysis builds it), is tried again by the next query.
    const forget = () => byUpload.get(uploadId) === one && byUpload.delete(uploadId);
    one.then((filter) => filter ?? forget(), forget);
  }
  return new Map(await Promise.all(uploadIds.map(async (uploadId) => [uploadId, await byUpload.get(uploadId)!] as const)));
}
