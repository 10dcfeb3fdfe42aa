import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { cleanupUploads } from '../../src/engine/cleanup.js';
import { uploadTable } from '../../src/engine/db.js';
import { FILTER_BITS_PER_KEY, forEachKeyRange, KeyFilter, keyFilterWindows, rangesFor, type KeyRange } from '../../src/engine/keyFilter.js';
import { runMatchQuery } from '../../src/engine/matchQuery.js';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { CSV_HEADER } from '../support/uploads.js';
import { waitFor } from '../support/localStack.js';

/** Realistic hashes (SHA-512), so the lookup keys are as random as in production; test/support's hashOf are not. */
const lds = (text: string) => createHash('sha512').update(text).digest('hex');

describe('key filters: a real-time query probes only the uploads that may hold a hash', () => {
  const engine = useEngineDatabase();

  /** n random keys, as KeyWords and as the 8-byte strings a query probes with. */
  const randomKeys = (n: number) => {
    const bytes = randomBytes(8 * n);
    const words = new Uint32Array(2 * n);
    for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32BE(4 * i);
    return { words, probe: (i: number) => bytes.subarray(8 * i, 8 * i + 8) };
  };

  it('never misses a key it holds, and answers "may hold" for about 0.018 % of the others, alone or in bulk', () => {
    const held = randomKeys(100_000);
    const filter = KeyFilter.empty(100_000);
    filter.addAll(held.words);
    for (let i = 0; i < 100_000; i++) if (!filter.mayHold(held.probe(i))) throw new Error(`missed the key at ${i}`);
    expect(filter.mayHoldOf(held.words)).toHaveLength(100_000);
    const others = randomKeys(100_000);
    const positives = filter.mayHoldOf(others.words);
    // Expected 0.0175 %: 17.5 of 100,000 (standard deviation ~4.2).
    expect(positives.length).toBeGreaterThan(3);
    expect(positives.length).toBeLessThan(35);
    expect(positives).toEqual(Array.from({ length: 100_000 }, (_, i) => i).filter((i) => filter.mayHold(others.probe(i))));
    // As stored and loaded again: the same answers.
    const again = KeyFilter.of(filter.bytes());
    expect(again.mayHoldOf(others.words)).toEqual(positives);
    expect(again.mayHoldOf(held.words)).toHaveLength(100_000);
  });

  it('answers from a window of its stored blocks as the whole filter does, for keys in the window\'s key range', () => {
    const held = randomKeys(50_000);
    const filter = KeyFilter.empty(50_000);
    filter.addAll(held.words);
    // High words in the keys' (signed) order: the range from the 10,000th to the 30,000th of the held keys.
    const order = (high: number) => (high ^ 0x80000000) >>> 0;
    const highs = Array.from({ length: 50_000 }, (_, i) => held.words[2 * i]!).sort((x, y) => order(x) - order(y));
    const [first, last] = [highs[10_000]!, highs[30_000]!];
    const range = KeyFilter.blockRange(filter.blocks, first, last);
    expect(range.length).toBeLessThan(filter.bytes().length / 2);
    const window = KeyFilter.of(filter.bytes().subarray(range.offset, range.offset + range.length), { blocks: filter.blocks, firstBlock: range.firstBlock });
    const inRange = (keys: Uint32Array) => {
      const words: number[] = [];
      for (let i = 0; i < keys.length; i += 2) if (order(keys[i]!) >= order(first) && order(keys[i]!) <= order(last)) words.push(keys[i]!, keys[i + 1]!);
      return Uint32Array.from(words);
    };
    const heldInRange = inRange(held.words);
    // 20,001 keys, or a few more when a boundary's high word repeats.
    expect(heldInRange.length / 2).toBeGreaterThanOrEqual(20_001);
    expect(window.mayHoldOf(heldInRange)).toHaveLength(heldInRange.length / 2);
    const othersInRange = inRange(randomKeys(100_000).words);
    expect(window.mayHoldOf(othersInRange)).toEqual(filter.mayHoldOf(othersInRange));
  });

  it('refuses stored bytes that are not whole blocks', () => {
    expect(() => KeyFilter.of(Buffer.alloc(33))).toThrow(/33 bytes is not a whole number of blocks/);
  });

  it('is built at activation, probed per hash only where it may be held, and dropped with its upload', async () => {
    const states = ['KA', 'KB', 'KC', 'KD', 'KE'];
    const uploads: Record<string, string> = {};
    for (const state of states) {
      const rows = Array.from({ length: 2000 }, (_, i) => `${lds(`${state}:${i}`)},${state}${i},C${i}`).join('\n');
      const { uploadId, activation } = await ingest(engine.pool, `${CSV_HEADER}\n${rows}\n`, { state, source: `${state.toLowerCase()}/p.csv` });
      expect(activation?.activated).toBe(true);
      uploads[state] = uploadId;
    }
    const { rows: stored } = await engine.pool.query<{ upload_id: string; keys: string; bytes: number }>(
      'SELECT upload_id, keys, octet_length(bits) AS bytes FROM bulkflow.upload_key_filters WHERE upload_id = ANY($1) ORDER BY upload_id',
      [Object.values(uploads)],
    );
    expect(stored.map((row) => [row.keys, row.bytes])).toEqual(states.map(() => ['2000', Math.ceil((2000 * FILTER_BITS_PER_KEY) / 256) * 32]));

    // The key indexes' scan counters: a query by KA for persons only KC holds (and one nobody holds) probes KC alone.
    const scans = async () => {
      await engine.pool.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await engine.pool.query<{ state: string; scans: string }>(
        `SELECT upper(substring(relname FROM 14 FOR 2)) AS state, idx_scan AS scans FROM pg_stat_user_indexes
         WHERE schemaname = 'bulkflow' AND indexrelname = ANY($1)`,
        [Object.values(uploads).map((uploadId) => `${uploadTable(uploadId).name}_lds_key`)],
      );
      return Object.fromEntries(rows.map((row) => [row.state, Number(row.scans)]));
    };
    // Activation's own index reads reach the counters late too: wait until they stop moving.
    let before = await scans();
    for (let settled = false; !settled; ) {
      await new Promise((done) => setTimeout(done, 1500));
      const now = await scans();
      settled = states.every((state) => now[state] === before[state]);
      before = now;
    }
    const answer = await runMatchQuery(engine.pool, 'KA', [{ ldsHash: lds('KC:7') }, { ldsHash: lds('KC:8') }, { ldsHash: lds('nobody') }], 'filtered');
    expect(answer.results.map((r) => r.matches.map((m) => [m.otherState, m.otherParticipant.participantId]))).toEqual([[['KC', 'KC7']], [['KC', 'KC8']], []]);
    // Statistics reach the shared counters when the querying connection goes idle (within a second or so).
    const after = await waitFor('the probes in the index statistics', async () => {
      const now = await scans();
      return now.KC! > before.KC! ? now : undefined;
    }, 20_000);
    expect(Object.fromEntries(states.map((state) => [state, after[state]! - before[state]!]))).toEqual({ KA: 0, KB: 0, KC: 2, KD: 0, KE: 0 });

    // An upload activated before filters existed has none: it is probed for every hash, and found.
    await engine.pool.query('DELETE FROM bulkflow.upload_key_filters WHERE upload_id = $1', [uploads.KD]);
    const unfiltered = await runMatchQuery(engine.pool, 'KB', [{ ldsHash: lds('KD:5') }], 'unfiltered');
    expect(unfiltered.results[0]!.matches.map((m) => m.otherParticipant.participantId)).toEqual(['KD5']);

    // A new upload of KE: its filter is used, the old one dropped with the old upload's rows.
    const { uploadId: next } = await ingest(engine.pool, `${CSV_HEADER}\n${lds('KE:new')},KEnew,C1\n`, { state: 'KE', source: 'ke/p.csv' });
    const found = await runMatchQuery(engine.pool, 'KA', [{ ldsHash: lds('KE:new') }, { ldsHash: lds('KE:5') }], 'next');
    expect(found.results.map((r) => r.matches.map((m) => m.otherParticipant.participantId))).toEqual([['KEnew'], []]);
    await cleanupUploads(engine.pool, { retentionMs: 0 });
    const { rows: left } = await engine.pool.query('SELECT upload_id FROM bulkflow.upload_key_filters WHERE upload_id = ANY($1)', [[uploads.KE, next]]);
    expect(left.map((row) => row.upload_id)).toEqual([next]);
  });

  it('reads an upload\'s keys a range at a time: each key once, in key order, with the windows that answer for its range', async () => {
    // 40 ranges. Besides random keys, keys on every range boundary and the extremes.
    const parts = 40;
    const start = (j: number) => Math.floor((j * 2 ** 32) / parts);
    const keyHex = (key: bigint) => BigInt.asUintN(64, key).toString(16).padStart(16, '0');
    const edges = [-(2n ** 63n), 2n ** 63n - 1n];
    for (let j = 1; j < parts; j++) edges.push(BigInt(start(j) - 2 ** 31) << 32n, (BigInt(start(j) - 2 ** 31) << 32n) - 1n);
    const hashes = [...edges.map((key, i) => keyHex(key) + lds(`edge ${i}`).slice(16)), ...Array.from({ length: 1000 }, (_, i) => lds(`RA:${i}`))];
    // The same key twice (two hashes sharing their first 8 bytes) is one key.
    hashes.push(hashes[5]!.slice(0, 16) + lds('twin').slice(16));
    const rows = hashes.map((hash, i) => `${hash},RA${i},C${i}`).join('\n');
    const { uploadId, activation } = await ingest(engine.pool, `${CSV_HEADER}\n${rows}\n`, { state: 'RA', source: 'ra/p.csv' });
    expect(activation?.activated).toBe(true);

    const { rows: expected } = await engine.pool.query<{ key: string }>(`SELECT lds_key::text AS key FROM ${uploadTable(uploadId).qualified} GROUP BY lds_key ORDER BY lds_key`);
    const { rows: [filter] } = await engine.pool.query<{ blocks: number }>('SELECT octet_length(bits) / 32 AS blocks FROM bulkflow.upload_key_filters WHERE upload_id = $1', [uploadId]);
    const visited: string[] = [];
    const ranges: KeyRange[] = [];
    await forEachKeyRange(engine.pool, uploadId, parts, (words, [range, windows]: [KeyRange, KeyFilter[]]) => {
      for (let i = 0; i < words.length; i += 2) {
        const key = BigInt.asIntN(64, (BigInt(words[i]!) << 32n) | BigInt(words[i + 1]!));
        expect(key >= BigInt(range.from) && key <= BigInt(range.to)).toBe(true);
        visited.push(key.toString());
      }
      // The upload's own filter, as the window for the range, holds every key of the range.
      expect(windows[0]!.mayHoldOf(words)).toHaveLength(words.length / 2);
    }, async (range): Promise<[KeyRange, KeyFilter[]]> => {
      ranges.push(range);
      return [range, await keyFilterWindows(engine.pool, [uploadId], [filter!.blocks], range)];
    });
    expect(visited).toEqual(expected.map((row) => row.key));
    expect(visited).toHaveLength(hashes.length - 1);
    // The ranges cut the whole key space, each beginning right after the one before.
    expect(ranges).toHaveLength(parts);
    expect(ranges[0]!.from).toBe((-(2n ** 63n)).toString());
    expect(ranges.at(-1)!.to).toBe((2n ** 63n - 1n).toString());
    for (let j = 1; j < parts; j++) expect(BigInt(ranges[j]!.from)).toBe(BigInt(ranges[j - 1]!.to) + 1n);
    // About 250k keys per range, and at most 4 MB of other filters' windows: a small upload probed against large
    // filters reads them in many small ranges, not whole in one statement.
    expect([rangesFor(0), rangesFor(250_000), rangesFor(5_400_000), rangesFor(27_000, 110 * 2 ** 20), rangesFor(5_400_000, 110 * 2 ** 20)]).toEqual([1, 1, 22, 28, 28]);
  });

  it('loads the filters on the query\'s own connection: a query never waits for a second one', async () => {
    // A new pool has none loaded; with one connection, held by the query's transaction, a load through the pool
    // would wait until the timeout.
    const single = new pg.Pool({ connectionString: engine.db.url, max: 1, connectionTimeoutMillis: 5000 });
    try {
      const answer = await runMatchQuery(single, 'KA', [{ ldsHash: lds('KB:3') }], 'one-connection');
      expect(answer.results[0]!.matches.map((m) => m.otherParticipant.participantId)).toEqual(['KB3']);
    } finally {
      await single.end();
    }
  });
});
