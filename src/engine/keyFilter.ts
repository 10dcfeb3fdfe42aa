import type pg from 'pg';
import { type Queryable, uploadTable } from './db.js';

/**
 * A Bloom filter of one upload's lookup keys (lds_key: the first 8 bytes of lds_hash), so that a real-time query
 * probes only the uploads that may hold a hash instead of every active upload: a hash costs one index probe per
 * upload that holds it (plus false positives, ~0.3 % of the uploads that do not), however many states are active.
 *
 * The keys are already uniformly random (a SHA-512 prefix), so the k bit positions come from the key itself by double
 * hashing (Kirsch and Mitzenmacher): position i = (high + i * low) mod m, with the key's two 32-bit halves. 12 bits
 * per key and 8 positions: false positives 0.31 %; 5.4M keys (California) take 8.1 MB.
 */
export const FILTER_BITS_PER_KEY = 12;
export const FILTER_HASHES = 8;

export class KeyFilter {
  private constructor(
    readonly bits: Uint8Array,
    readonly hashes: number,
  ) {}

  static empty(keys: number, bitsPerKey = FILTER_BITS_PER_KEY, hashes = FILTER_HASHES): KeyFilter {
    return new KeyFilter(new Uint8Array(Math.max(8, Math.ceil((keys * bitsPerKey) / 8))), hashes);
  }

  static of(bits: Uint8Array, hashes: number): KeyFilter {
    return new KeyFilter(bits, hashes);
  }

  /** Adds the 8-byte big-endian keys held in `keys` (a multiple of 8 bytes). */
  addAll(keys: Buffer): void {
    for (let offset = 0; offset + 8 <= keys.length; offset += 8) {
      this.visit(keys.readUInt32BE(offset), keys.readUInt32BE(offset + 4), (byte, mask) => {
        this.bits[byte]! |= mask;
        return true;
      });
    }
  }

  /** False: no key added had these first 8 bytes. True: one may have (then the index says). */
  mayHold(hash: Buffer): boolean {
    return this.visit(hash.readUInt32BE(0), hash.readUInt32BE(4), (byte, mask) => (this.bits[byte]! & mask) !== 0);
  }

  private visit(high: number, low: number, bit: (byte: number, mask: number) => boolean): boolean {
    const m = this.bits.length * 8;
    for (let i = 0; i < this.hashes; i++) {
      const position = (high + i * low) % m; // < 2^35 + 2^32: exact in a double
      if (!bit(position >>> 3, 1 << (position & 7))) return false;
    }
    return true;
  }
}

/** Keys read per statement while a filter is built (8 MB of keys). */
const KEYS_PER_BATCH = 1_000_000;

/**
 * Builds the upload's key filter and stores it (once: a repeated activation finds it). Reads the keys from the lookup
 * index alone (the table was vacuumed), a million at a time as packed 8-byte strings, in key order.
 */
export async function buildKeyFilter(pool: pg.Pool, uploadId: string): Promise<void> {
  const stored = await pool.query('SELECT 1 FROM bulkflow.upload_key_filters WHERE upload_id = $1', [uploadId]);
  if (stored.rowCount) return;
  const table = uploadTable(uploadId).qualified;
  // Exact once the upload is finalized (duplicates removed): the rows its table holds.
  const { rows: [upload] } = await pool.query<{ rows: string }>('SELECT rows_committed AS rows FROM bulkflow.uploads WHERE upload_id = $1', [uploadId]);
  const keys = Number(upload!.rows);
  const filter = KeyFilter.empty(keys);
  let after: string | null = null;
  for (;;) {
    const result = await pool.query<{ keys: Buffer | null; last: string | null }>(
      `SELECT string_agg(int8send(lds_key), ''::bytea) AS keys, max(lds_key)::text AS last
         FROM (SELECT lds_key FROM ${table} WHERE $1::bigint IS NULL OR lds_key > $1::bigint ORDER BY lds_key LIMIT $2) k`,
      [after, KEYS_PER_BATCH],
    );
    const batch: { keys: Buffer | null; last: string | null } = result.rows[0]!;
    if (!batch.keys) break;
    filter.addAll(batch.keys);
    // Keys that repeat across a batch boundary are rare and harmless: a key already added sets the same bits.
    if (batch.keys.length < KEYS_PER_BATCH * 8) break;
    after = batch.last;
  }
  await pool.query(
    `INSERT INTO bulkflow.upload_key_filters (upload_id, keys, hashes, bits) VALUES ($1, $2, $3, $4) ON CONFLICT (upload_id) DO NOTHING`,
    [uploadId, keys, filter.hashes, Buffer.from(filter.bits.buffer, filter.bits.byteOffset, filter.bits.byteLength)],
  );
}

/** Filters of immutable uploads, per pool: an upload's keys never change once it is active. */
const cached = new WeakMap<pg.Pool, Map<string, Promise<KeyFilter | null>>>();

/**
 * The key filters of the given uploads (null for an upload without one, activated before filters existed: it is
 * probed for every hash). Loaded once per process and pool through `db`, and kept while the upload is active.
 */
export async function keyFilters(pool: pg.Pool, db: Queryable, uploadIds: readonly string[]): Promise<Map<string, KeyFilter | null>> {
  let byUpload = cached.get(pool);
  if (!byUpload) cached.set(pool, (byUpload = new Map()));
  const wanted = new Set(uploadIds);
  for (const uploadId of byUpload.keys()) if (!wanted.has(uploadId)) byUpload.delete(uploadId);
  for (const uploadId of uploadIds) {
    if (byUpload.has(uploadId)) continue;
    // One statement per upload, on the caller's connection (a query holding one never waits for another): a first
    // query at national scale loads ~63 MB, never all of it in one answer.
    const one = db
      .query<{ hashes: number; bits: Buffer }>('SELECT hashes, bits FROM bulkflow.upload_key_filters WHERE upload_id = $1', [uploadId])
      .then(({ rows: [row] }) => (row ? KeyFilter.of(row.bits, row.hashes) : null));
    byUpload.set(uploadId, one);
    // A failed load is tried again by the next query.
    one.catch(() => byUpload.get(uploadId) === one && byUpload.delete(uploadId));
  }
  return new Map(await Promise.all(uploadIds.map(async (uploadId) => [uploadId, await byUpload.get(uploadId)!] as const)));
}
