import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateUpload, cleanupUploads } from '../../src/engine/index.js';
import { matchRunInTransaction, runMatchAnalyses, runMatchAnalysis } from '../../src/engine/matchAnalysis.js';
import { getMatch, listStateMatches, matchPairCounts, matchStates, type MatchView } from '../../src/engine/matchReads.js';
import { runMatchQuery } from '../../src/engine/matchQuery.js';
import { candidateKeys } from '../../src/engine/matchCandidates.js';
import { purgeClosedMatches } from '../../src/engine/matchRecords.js';
import { createEngineDatabase, ingest, type EngineDatabase } from '../support/engineDatabase.js';
import { CSV_HEADER, hashOf, numberOf } from '../support/uploads.js';

/** Each scenario's states (by first letter) share hashes among themselves only. */
const base = (state: string) => 10_000 * 'NOPQRSTUVX'.indexOf(state[0]!);
const stateHash = (state: string, n: number) => hashOf(base(state) + n);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

interface Side {
  participantId: string;
  caseId: string | null;
  uploadId: string;
}

interface MatchRow {
  matchId: string;
  pair: string;
  hash: number;
  initiatingState: string;
  a: Side;
  b: Side;
  closedAt: Date | null;
  closedByUpload: string | null;
  openedAt: Date;
}

describe('match records', () => {
  let engine: EngineDatabase;
  let etag = 0;
  beforeAll(async () => {
    engine = await createEngineDatabase();
  });
  afterAll(async () => engine.close());

  /** A state's file: one row per hash number, participant `${state}${n}`, case `C${n}`; extra rows verbatim. */
  const file = (state: string, hashes: number[], extra: string[] = []) =>
    `${CSV_HEADER}\n${[...hashes.map((n) => `${stateHash(state, n)},${state}${n},C${n}`), ...extra].join('\n')}\n`;

  async function upload(state: string, content: string, options: { activate?: boolean; maxRejectedShare?: number } = {}) {
    const result = await ingest(engine.pool, content, {
      state,
      source: `${state.toLowerCase()}/participants.csv`,
      etag: String(++etag),
      skipActivation: options.activate === false,
      ...(options.maxRejectedShare === undefined ? {} : { maxRejectedShare: options.maxRejectedShare }),
    });
    return result.uploadId;
  }

  async function activate(state: string, hashes: number[], extra: string[] = []) {
    return upload(state, file(state, hashes, extra));
  }

  const run = (uploadId: string) => runMatchAnalysis(engine.pool, `${uploadId}.completed`, uploadId);

  async function records(states: string[]): Promise<MatchRow[]> {
    const { rows } = await engine.pool.query(
      `SELECT * FROM bulkflow.matches WHERE state_a = ANY($1) AND state_b = ANY($1)`,
      [states],
    );
    // In order of the hashes' numbers (the hashes themselves start with a random lookup key).
    return rows.map((row): MatchRow => ({
      matchId: row.match_id,
      pair: `${row.state_a}-${row.state_b}`,
      hash: numberOf((row.lds_hash as Buffer).toString('hex')) - base(row.state_a),
      initiatingState: row.initiating_state,
      a: { participantId: row.a_participant_id, caseId: row.a_case_id, uploadId: row.a_upload_id },
      b: { participantId: row.b_participant_id, caseId: row.b_case_id, uploadId: row.b_upload_id },
      closedAt: row.closed_at,
      closedByUpload: row.closed_by_upload,
      openedAt: row.opened_at,
    })).sort((x, y) => x.pair.localeCompare(y.pair) || x.hash - y.hash);
  }

  const open = (rows: MatchRow[], pair: string) => rows.filter((r) => r.pair === pair && !r.closedAt).map((r) => r.hash);
  const closed = (rows: MatchRow[], pair: string) => rows.filter((r) => r.pair === pair && r.closedAt).map((r) => r.hash);
  const idsByKey = (rows: MatchRow[]) => new Map(rows.map((r) => [`${r.pair}:${r.hash}`, r.matchId]));

  async function matchEvents(runId: string) {
    const { rows } = await engine.pool.query<{ id: string; type: string; subject: string; data: Record<string, unknown> }>(
      `SELECT id, type, subject, data FROM bulkflow.outbox WHERE type = 'gov.bulkflow.matches.updated' AND data->>'runId' = $1 ORDER BY id`,
      [runId],
    );
    return rows;
  }

  describe('three states with crafted overlaps', () => {
    const ids: Record<string, string> = {};
    beforeAll(async () => {
      // NA: 0..99 (hash 55 twice: NA55 and NA55x); NB: 50..149 (hash 60 without a case id); NC: 90..189 and 10..14.
      ids.NA = await activate('NA', range(0, 100), [`${stateHash('NA', 55)},NA55x,X55`]);
      await run(ids.NA);
      ids.NB = await activate('NB', range(50, 150).filter((n) => n !== 60), [`${stateHash('NB', 60)},NB60,`]);
      await run(ids.NB);
      ids.NC = await activate('NC', [...range(90, 190), ...range(10, 15)]);
    });

    it('opens one record per pair and shared hash, with each side as its active upload holds it', async () => {
      const ran = await run(ids.NC!);
      expect(ran).toMatchObject({ outcome: 'matched', computed: true, state: 'NC' });
      expect(ran.results).toEqual([{ state: 'NA', matches: 15, new: 15, closed: 0 }, { state: 'NB', matches: 60, new: 60, closed: 0 }]);

      const rows = await records(['NA', 'NB', 'NC']);
      expect(rows).toHaveLength(50 + 15 + 60);
      expect(open(rows, 'NA-NB')).toEqual(range(50, 100));
      expect(open(rows, 'NA-NC')).toEqual([...range(10, 15), ...range(90, 100)]);
      expect(open(rows, 'NB-NC')).toEqual(range(90, 150));
      for (const row of rows) {
        const [stateA, stateB] = row.pair.split('-') as [string, string];
        const side = (state: string): Side => ({
          participantId: `${state}${row.hash}`,
          caseId: state === 'NB' && row.hash === 60 ? null : `C${row.hash}`,
          uploadId: ids[state]!,
        });
        // Hash 55 is held twice by NA: the lowest participant id stands for it.
        expect(row).toMatchObject({ a: side(stateA), b: side(stateB), initiatingState: stateB, closedAt: null, closedByUpload: null });
      }
    });

    it('gives each record a short URL-safe id: HMAC-SHA-256 of pair and hash under the database key, 96 bits', async () => {
      const rows = await records(['NA', 'NB', 'NC']);
      const { rows: [stored] } = await engine.pool.query<{ key: Buffer }>('SELECT key FROM bulkflow.match_id_key');
      expect(stored!.key).toHaveLength(32);
      for (const row of rows) {
        expect(row.matchId).toMatch(/^[A-Za-z0-9_-]{16}$/);
        const message = Buffer.concat([Buffer.from(row.pair.replace('-', '')), Buffer.from(stateHash(row.pair, row.hash), 'hex')]);
        expect(row.matchId).toBe(createHmac('sha256', stored!.key).update(message).digest().subarray(0, 12).toString('base64url'));
      }
      expect(new Set(rows.map((r) => r.matchId)).size).toBe(rows.length);
      // The same hash in two pairs gets unrelated ids.
      expect(rows.find((r) => r.pair === 'NA-NB' && r.hash === 95)!.matchId).not.toBe(rows.find((r) => r.pair === 'NA-NC' && r.hash === 95)!.matchId);
    });

    it('computes ids in the statement itself: the planner inlines the id function (a SQL function call per id cost 2.5x)', async () => {
      const { rows } = await engine.pool.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN VERBOSE SELECT bulkflow.match_id(k.key, 'NA', 'NB', '\\x00'::bytea) FROM bulkflow.match_id_key k`);
      const output = rows.map((row) => row['QUERY PLAN']).find((line) => line.trim().startsWith('Output:'));
      expect(output).toMatch(/hmac\(/);
      expect(output).not.toMatch(/match_id\(/);
    });

    it('announces the run to every state involved, with counts and ids only', async () => {
      const events = await matchEvents(`${ids.NC}.completed`);
      expect(events.map((e) => [e.id, e.subject])).toEqual([
        [`${ids.NC}.completed.matches.NA`, 'states/NA/matches'],
        [`${ids.NC}.completed.matches.NB`, 'states/NB/matches'],
        [`${ids.NC}.completed.matches.NC`, 'states/NC/matches'],
      ]);
      const base = { runId: `${ids.NC}.completed`, uploadId: ids.NC, uploadState: 'NC', stillOpen: 0, closed: 0 };
      expect(events.map((e) => e.data)).toEqual([
        { ...base, state: 'NA', new: 15 },
        { ...base, state: 'NB', new: 60 },
        { ...base, state: 'NC', new: 75 },
      ]);
    });

    /** Every record of a state and status, a page of `limit` at a time. */
    async function allPages(state: string, status: 'open' | 'closed', limit: number) {
      const pages: MatchView[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await listStateMatches(engine.pool, state, { status, limit, ...(after ? { after } : {}) });
        pages.push(page.matches);
        if (!page.next) return pages;
        after = page.next;
      }
    }

    it('shows each record to both its states, each with the other state\'s participant fields and nothing of a third', async () => {
      const rows = await records(['NA', 'NB', 'NC']);
      for (const state of ['NA', 'NB', 'NC']) {
        const pages = await allPages(state, 'open', 20);
        const seen = pages.flat();
        const mine = rows.filter((r) => r.pair.split('-').includes(state));
        expect(seen.map((m) => m.matchId)).toEqual(mine.map((r) => r.matchId).sort());
        expect(pages.slice(0, -1).every((page) => page.length === 20)).toBe(true);
        for (const view of seen) {
          const row = mine.find((r) => r.matchId === view.matchId)!;
          const [own, other] = row.pair.startsWith(state) ? [row.a, row.b] : [row.b, row.a];
          expect(view).toMatchObject({
            status: 'open', state, otherState: row.pair.replace(state, '').replace('-', ''), initiatingState: row.initiatingState,
            participant: own, otherParticipant: { participantId: other.participantId, caseId: other.caseId }, closedAt: null, closedByState: null,
          });
          expect(Object.keys(view.otherParticipant).sort()).toEqual(['caseId', 'participantId']);
          const third = ['NA', 'NB', 'NC'].find((s) => s !== view.state && s !== view.otherState)!;
          // Participant ids start with their state's code, upload ids with its lower case: none of the third state's.
          const { matchId: _id, ...fields } = view;
          expect(JSON.stringify(fields)).not.toMatch(new RegExp(`"(${third}|${third.toLowerCase()}-)`));
        }
      }
      const some = rows.find((r) => r.pair === 'NA-NB')!;
      expect(await matchStates(engine.pool, some.matchId)).toEqual(['NA', 'NB']);
      expect(await getMatch(engine.pool, some.matchId, 'nb')).toMatchObject({ state: 'NB', otherState: 'NA', otherParticipant: { participantId: some.a.participantId } });
      expect(await getMatch(engine.pool, some.matchId, 'NC')).toBeUndefined();
      expect(await getMatch(engine.pool, 'AAAAAAAAAAAAAAAA', 'NA')).toBeUndefined();
      expect(await listStateMatches(engine.pool, 'NA', { status: 'closed', limit: 10 })).toEqual({ matches: [], next: null });
      expect(await matchPairCounts(engine.pool, ['NB'])).toEqual([
        { stateA: 'NA', stateB: 'NB', open: 50, closed: 0 }, { stateA: 'NB', stateB: 'NC', open: 60, closed: 0 },
      ]);
    });

    it('does the same whatever order the states activate in', async () => {
      const mirror = (state: string) => state.replace(/^N/, 'O');
      const oc = await activate('OC', [...range(90, 190), ...range(10, 15)]);
      await run(oc);
      const ob = await activate('OB', range(50, 150).filter((n) => n !== 60), [`${stateHash('OB', 60)},OB60,`]);
      await run(ob);
      const oa = await activate('OA', range(0, 100), [`${stateHash('OA', 55)},OA55x,X55`]);
      await run(oa);
      const strip = (rows: MatchRow[], map: (state: string) => string) =>
        rows.map((r) => ({
          pair: r.pair.split('-').map(map).join('-'), hash: r.hash, open: !r.closedAt,
          a: r.a.participantId.replace(/^N/, 'O'), b: r.b.participantId.replace(/^N/, 'O'),
        }));
      expect(strip(await records(['OA', 'OB', 'OC']), (s) => s)).toEqual(strip(await records(['NA', 'NB', 'NC']), mirror));
    });

    it('closes the records of hashes a re-upload drops (by that upload), keeps the others under their ids, and reopens them under the same id', async () => {
      const before = await records(['NA', 'NB', 'NC']);
      const nb2 = await activate('NB', range(50, 140).filter((n) => n < 60 || n >= 70));
      const ran = await run(nb2);
      expect(ran.results).toEqual([{ state: 'NA', matches: 40, new: 0, closed: 10 }, { state: 'NC', matches: 50, new: 0, closed: 10 }]);

      const after = await records(['NA', 'NB', 'NC']);
      expect(idsByKey(after)).toEqual(idsByKey(before));
      expect(closed(after, 'NA-NB')).toEqual(range(60, 70));
      expect(closed(after, 'NB-NC')).toEqual(range(140, 150));
      expect(closed(after, 'NA-NC')).toEqual([]);
      for (const row of after.filter((r) => r.closedAt)) expect(row.closedByUpload).toBe(nb2);
      for (const row of after.filter((r) => !r.closedAt && r.pair === 'NA-NB')) expect(row.b).toEqual({ participantId: `NB${row.hash}`, caseId: `C${row.hash}`, uploadId: nb2 });
      for (const row of after.filter((r) => !r.closedAt && r.pair === 'NB-NC')) expect(row.a.uploadId).toBe(nb2);
      expect((await matchEvents(`${nb2}.completed`)).map((e) => [e.data.state, e.data.new, e.data.stillOpen, e.data.closed])).toEqual([
        ['NA', 0, 40, 10], ['NB', 0, 90, 20], ['NC', 0, 50, 10],
      ]);

      const nb3 = await activate('NB', range(50, 140).filter((n) => n < 65 || n >= 70));
      expect((await run(nb3)).results).toEqual([{ state: 'NA', matches: 45, new: 5, closed: 0 }, { state: 'NC', matches: 50, new: 0, closed: 0 }]);
      const reopened = await records(['NA', 'NB', 'NC']);
      expect(idsByKey(reopened)).toEqual(idsByKey(before));
      expect(closed(reopened, 'NA-NB')).toEqual(range(65, 70));
      for (const row of reopened.filter((r) => r.pair === 'NA-NB' && r.hash >= 60 && r.hash < 65)) {
        expect(row).toMatchObject({ closedAt: null, closedByUpload: null, initiatingState: 'NB', b: { uploadId: nb3 } });
        expect(row.openedAt.getTime()).toBeGreaterThan(before.find((r) => r.matchId === row.matchId)!.openedAt.getTime());
      }
      // NC's records with NB did not change: NC hears nothing.
      expect((await matchEvents(`${nb3}.completed`)).map((e) => e.data.state)).toEqual(['NA', 'NB']);
      // Closed records are listed apart, each saying which state's upload dropped the hash.
      const closedForNc = (await allPages('NC', 'closed', 4)).flat();
      expect(closedForNc.map((m) => [m.otherState, m.otherParticipant.participantId, m.closedByState])).toEqual(
        reopened.filter((r) => r.pair === 'NB-NC' && r.closedAt).sort((x, y) => (x.matchId < y.matchId ? -1 : 1)).map((r) => ['NB', `NB${r.hash}`, 'NB']),
      );
      expect(closedForNc).toHaveLength(10);
      expect(await matchPairCounts(engine.pool, ['NB', 'NC'])).toEqual([
        { stateA: 'NA', stateB: 'NB', open: 45, closed: 5 }, { stateA: 'NA', stateB: 'NC', open: 15, closed: 0 }, { stateA: 'NB', stateB: 'NC', open: 50, closed: 10 },
      ]);
    });

    it('attributes a closing to the other state\'s newer upload when that one dropped the hash first', async () => {
      // NB's next upload drops 70..74 and is active, but its event has not been processed when NA's upload arrives.
      const nb4 = await activate('NB', range(50, 140).filter((n) => n < 65 || n >= 75));
      const na2 = await activate('NA', range(0, 100), [`${stateHash('NA', 55)},NA55x,X55`]);
      expect((await run(na2)).results).toContainEqual({ state: 'NB', matches: 40, new: 0, closed: 5 });
      const rows = await records(['NA', 'NB']);
      expect(rows.filter((r) => r.hash >= 70 && r.hash < 75).map((r) => r.closedByUpload)).toEqual(Array(5).fill(nb4));
      expect((await run(nb4)).results).toContainEqual({ state: 'NA', matches: 40, new: 0, closed: 0 });
    });

    it('changes nothing when an event is replayed', async () => {
      const before = await engine.pool.query(`SELECT m::text FROM bulkflow.matches m ORDER BY match_id`);
      const outbox = await engine.pool.query(`SELECT count(*)::int AS n FROM bulkflow.outbox`);
      const stored = await engine.pool.query(`SELECT results FROM bulkflow.match_runs WHERE event_id = $1`, [`${ids.NC}.completed`]);
      const replay = await run(ids.NC!);
      expect(replay).toMatchObject({ computed: false, outcome: 'matched', results: stored.rows[0].results });
      await Promise.all([run(ids.NC!), run(ids.NC!)]);
      expect((await engine.pool.query(`SELECT m::text FROM bulkflow.matches m ORDER BY match_id`)).rows).toEqual(before.rows);
      expect((await engine.pool.query(`SELECT count(*)::int AS n FROM bulkflow.outbox`)).rows).toEqual(outbox.rows);
    });
  });

  it('does nothing for an upload that is superseded, failed or not complete, also when its event comes late', async () => {
    const pa = await activate('PA', range(0, 20));
    await run(pa);
    const pb1 = await activate('PB', range(0, 10));
    const pb2 = await activate('PB', range(5, 15));
    // Out of order: the newer upload's event first, then the superseded one's.
    expect((await run(pb2)).results).toEqual([{ state: 'PA', matches: 10, new: 10, closed: 0 }]);
    const before = await records(['PA', 'PB']);
    expect(await run(pb1)).toMatchObject({ outcome: 'skipped', results: [], computed: true });
    const failed = await upload('PB', file('PB', range(0, 3), ['bad,PBx1,C', 'bad,PBx2,C']), { maxRejectedShare: 0.05 });
    expect(await run(failed)).toMatchObject({ outcome: 'skipped', results: [] });
    const partial = await upload('PB', file('PB', range(0, 20)), { activate: false });
    expect(await run(partial)).toMatchObject({ outcome: 'skipped', results: [] });
    expect(await records(['PA', 'PB'])).toEqual(before);
    expect(await matchEvents(`${pb1}.completed`)).toEqual([]);
    await expect(runMatchAnalysis(engine.pool, 'unknown.completed', 'zz-00000000000000000000')).rejects.toThrow(/unknown/);
  });

  it('yields each shared hash exactly once when two states activate and match at the same moment, many times', async () => {
    const universe = 120;
    const seeded = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const random = seeded(17);
    const subset = () => range(0, universe).filter(() => random() < 0.6);
    const third = await activate('QC', range(0, universe).filter((n) => n % 3 === 0));
    await run(third);
    const firstIds = new Map<string, string>();
    const held: Record<string, number[]> = { QC: range(0, universe).filter((n) => n % 3 === 0) };
    const active: Record<string, string> = { QC: third };
    for (let round = 0; round < 12; round++) {
      const next = { QA: subset(), QB: subset() };
      const previous = active.QA;
      const [qa, qb] = await Promise.all((['QA', 'QB'] as const).map((state) => upload(state, file(state, next[state]), { activate: false })));
      // Both activate and run side by side, and the previous round's event of QA is delivered again meanwhile.
      await Promise.all([
        ...[qa!, qb!].map(async (uploadId) => {
          await new Promise((done) => setTimeout(done, Math.floor(random() * 5)));
          expect(await activateUpload(engine.pool, uploadId)).toMatchObject({ status: 'complete' });
          await run(uploadId);
        }),
        previous ? run(previous) : undefined,
      ]);
      Object.assign(held, next);
      Object.assign(active, { QA: qa, QB: qb });
      const rows = await records(['QA', 'QB', 'QC']);
      const keys = rows.map((r) => `${r.pair}:${r.hash}`);
      expect(new Set(keys).size).toBe(keys.length);
      for (const [x, y] of [['QA', 'QB'], ['QA', 'QC'], ['QB', 'QC']] as const) {
        const expected = held[x]!.filter((n) => held[y]!.includes(n));
        expect(open(rows, `${x}-${y}`), `round ${round}, ${x}-${y}`).toEqual(expected);
        for (const row of rows.filter((r) => r.pair === `${x}-${y}` && !r.closedAt)) expect([row.a.uploadId, row.b.uploadId]).toEqual([active[x], active[y]]);
      }
      for (const [key, id] of idsByKey(rows)) {
        expect(firstIds.get(key) ?? id).toBe(id);
        firstIds.set(key, id);
      }
    }
  });

  it('never makes an activation wait for a match run, of its own state or another', async () => {
    const ra = await activate('RA', range(0, 30));
    await run(ra);
    const rb = await activate('RB', range(10, 40));
    const nextRa = await upload('RA', file('RA', range(0, 20)), { activate: false });
    const nextRb = await upload('RB', file('RB', range(0, 20)), { activate: false });
    const client = await engine.pool.connect();
    try {
      // RB's run has done all its work (records written, events in the outbox) and has not committed yet.
      await client.query('BEGIN');
      expect(await matchRunInTransaction(client, `${rb}.completed`, rb)).toMatchObject({ outcome: 'matched', results: [{ state: 'RA', matches: 20 }] });
      const started = Date.now();
      const activations = await Promise.all([activateUpload(engine.pool, nextRa), activateUpload(engine.pool, nextRb)]);
      expect(activations.map((a) => a.status)).toEqual(['complete', 'complete']);
      expect(Date.now() - started).toBeLessThan(20_000);
      await client.query('COMMIT');
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
    expect((await run(nextRa)).results).toEqual([{ state: 'RB', matches: 20, new: 10, closed: 10 }]);
  });

  it('locks no table but the uploads it reads: housekeeping drops another upload\'s table while a run is open', async () => {
    // Dropping a partition locks the partitioned table; a run holding a lock on it would make housekeeping wait, and
    // every activation (its partition attach) queue behind housekeeping.
    const ta = await activate('TA', range(0, 20));
    await run(ta);
    const tb1 = await activate('TB', range(10, 30));
    const tb2 = await activate('TB', range(10, 25));
    const client = await engine.pool.connect();
    try {
      await client.query('BEGIN');
      expect(await matchRunInTransaction(client, `${tb2}.completed`, tb2)).toMatchObject({ outcome: 'matched', results: [{ state: 'TA', matches: 10 }] });
      const cleanup = await cleanupUploads(engine.pool, { retentionMs: 0 });
      expect(cleanup.skipped).toEqual([]);
      expect(cleanup.cleaned).toContain(tb1);
      await client.query('COMMIT');
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
    expect(open(await records(['TA', 'TB']), 'TA-TB')).toEqual(range(10, 20));
  });

  it('finds candidates by the other uploads\' key filters: every shared key, each once, and builds a filter an upload lacks', async () => {
    // TN holds 0-299 (hash 7 twice, under two participants), the others share 40, 25 and none of them.
    const sha = (n: number) => createHash('sha512').update(`key ${n}`).digest('hex');
    const key = (n: number) => BigInt.asIntN(64, BigInt(`0x${sha(n).slice(0, 16)}`)).toString();
    const keyed = (state: string, hashes: number[]) => `${CSV_HEADER}\n${hashes.map((n) => `${sha(n)},${state}${n},C${n}`).join('\n')}\n`;
    const own = await upload('TN', keyed('TN', range(0, 300)).replace(/\n$/, `\n${sha(7)},TN7b,C7\n`));
    const others = [await upload('TX', keyed('TX', range(260, 340))), await upload('TA', keyed('TA', range(0, 25))), await upload('TB', keyed('TB', range(900, 950)))];
    // TX activated before filters changed layout: it has none, and the run builds it.
    await engine.pool.query('DELETE FROM bulkflow.upload_key_filters WHERE upload_id = $1', [others[0]]);

    const found = await candidateKeys(engine.pool, own, others);
    const byOther = others.map((other) => [...found.get(other)!]);
    const keys = byOther.flat();
    for (const keys of byOther) expect(new Set(keys).size).toBe(keys.length);
    expect(byOther[0]).toEqual(expect.arrayContaining(range(260, 300).map(key)));
    expect(byOther[1]).toEqual(expect.arrayContaining(range(0, 25).map(key)));
    // Beyond those, only the filters' false positives (0.018 % of 3 x 300 probes): keys of TN's own.
    expect(keys.length - 65).toBeLessThan(6);
    expect(range(0, 300).map(key)).toEqual(expect.arrayContaining(keys));
    const { rows: built } = await engine.pool.query('SELECT keys FROM bulkflow.upload_key_filters WHERE upload_id = $1', [others[0]]);
    expect(built).toEqual([{ keys: '80' }]);

    // The run opens one record per shared hash, with TN's lowest participant for hash 7.
    const result = await run(own);
    expect(result.results.map(({ state, matches }) => [state, matches])).toEqual([['TA', 25], ['TB', 0], ['TX', 40]].filter(([, n]) => n));
    const { rows: seven } = await engine.pool.query(
      `SELECT a_participant_id, b_participant_id FROM bulkflow.matches WHERE state_a = 'TA' AND state_b = 'TN' AND lds_hash = decode($1, 'hex')`, [sha(7)]);
    expect(seven).toEqual([{ a_participant_id: 'TA7', b_participant_id: 'TN7' }]);
  });

  it('matches on the whole hash: rows whose lookup keys collide but whose hashes differ meet no record, in bulk or by query', async () => {
    // Four hashes sharing one lookup key (the first 8 bytes), different after it: WA holds 1 and 2, WB 2 and 3.
    const key = hashOf(90_000).slice(0, 16);
    const twin = (n: number) => `${key}${n.toString(16).padStart(112, 'e')}`;
    const rows = (state: string, ns: number[]) => `${CSV_HEADER}\n${ns.map((n) => `${twin(n)},${state}${n},C${n}`).join('\n')}\n`;
    await run(await upload('WA', rows('WA', [1, 2])));
    await run(await upload('WB', rows('WB', [2, 3])));
    const { rows: made } = await engine.pool.query(
      `SELECT a_participant_id AS a, b_participant_id AS b, encode(lds_hash, 'hex') AS hash FROM bulkflow.matches WHERE state_a = 'WA' AND state_b = 'WB'`);
    expect(made).toEqual([{ a: 'WA2', b: 'WB2', hash: twin(2) }]);
    // A query probes the key's rows in both uploads (their filters hold the key) and keeps only the equal hash.
    const answer = await runMatchQuery(engine.pool, 'WC', [{ ldsHash: twin(3) }, { ldsHash: twin(4) }, { ldsHash: twin(1) }], 'twins');
    expect(answer.results.map((r) => r.matches.map((m) => `${m.otherState}:${m.otherParticipant.participantId}`))).toEqual([['WB:WB3'], [], ['WA:WA1']]);
  });

  it('records the same matches for a batch of runs as for the runs one by one', async () => {
    // Eight states, each sharing hashes with its neighbours: V* run one by one after each activation, U* activate
    // first and run as one batch (as lagging runs arrive together), their keys found before any run takes its locks.
    const states = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
    const held = (i: number) => range(10 * i, 10 * i + 45);
    for (const [i, s] of states.entries()) await run(await activate(`V${s}`, held(i)));
    const batch = [];
    for (const [i, s] of states.entries()) batch.push(await activate(`U${s}`, held(i)));
    const runs = await runMatchAnalyses(engine.pool, batch.map((uploadId) => ({ eventId: `${uploadId}.completed`, uploadId })));
    expect(runs.map((r) => [r.outcome, r.computed])).toEqual(states.map(() => ['matched', true]));
    expect(runs[0]!.results.filter((r) => r.state.startsWith('U'))).toEqual(
      ['UB', 'UC', 'UD', 'UE'].map((state, i) => ({ state, matches: 35 - 10 * i, new: 35 - 10 * i, closed: 0 })),
    );
    const strip = (rows: MatchRow[]) => rows.map((r) => ({ pair: r.pair.replace(/V/g, 'U'), hash: r.hash, open: !r.closedAt, a: r.a.participantId.slice(1), b: r.b.participantId.slice(1) }));
    const batched = await records(states.map((s) => `U${s}`));
    expect(batched).toHaveLength(7 * 35 + 6 * 25 + 5 * 15 + 4 * 5); // neighbours 1, 2, 3, 4 apart
    expect(strip(batched)).toEqual(strip(await records(states.map((s) => `V${s}`))));
    // Delivered again, the batch changes nothing.
    expect((await runMatchAnalyses(engine.pool, batch.map((uploadId) => ({ eventId: `${uploadId}.completed`, uploadId })))).map((r) => r.computed)).toEqual(states.map(() => false));
  });

  it('evaluates a pair once for the same two uploads: a later run counts its records, and a new upload evaluates it again', async () => {
    const xa = await activate('XA', range(0, 30));
    const xb1 = await activate('XB', range(20, 60));
    expect((await run(xa)).results).toEqual([{ state: 'XB', matches: 10, new: 10, closed: 0 }]);
    // Both uploads were active when XA's run evaluated the pair. Were XB's run to evaluate it again, it would put
    // back the side altered here; it counts the open records instead and announces nothing to XA.
    const altered = (await records(['XA', 'XB']))[0]!.matchId;
    await engine.pool.query(`UPDATE bulkflow.matches SET a_participant_id = 'altered' WHERE match_id = $1`, [altered]);
    expect((await run(xb1)).results).toEqual([{ state: 'XA', matches: 10, new: 0, closed: 0 }]);
    expect((await matchEvents(`${xb1}.completed`)).map((e) => [e.data.state, e.data.new, e.data.stillOpen, e.data.closed])).toEqual([['XB', 0, 10, 0]]);
    expect((await records(['XA', 'XB'])).find((r) => r.matchId === altered)!.a.participantId).toBe('altered');
    const evaluated = await engine.pool.query(`SELECT upload_a, upload_b FROM bulkflow.pair_evaluations WHERE state_a = 'XA' AND state_b = 'XB'`);
    expect(evaluated.rows).toEqual([{ upload_a: xa, upload_b: xb1 }]);

    const xb2 = await activate('XB', range(25, 60));
    expect((await run(xb2)).results).toEqual([{ state: 'XA', matches: 5, new: 0, closed: 5 }]);
    const after = await records(['XA', 'XB']);
    expect(open(after, 'XA-XB')).toEqual(range(25, 30));
    expect(after.filter((r) => !r.closedAt).every((r) => r.a.participantId === `XA${r.hash}` && r.b.uploadId === xb2)).toBe(true);
  });

  it('purges records closed longer ago than the retention, and no others', async () => {
    const sa = await activate('SA', range(0, 10));
    await run(sa);
    await run(await activate('SB', range(0, 10)));
    await run(await activate('SB', range(0, 5)));
    const rows = await records(['SA', 'SB']);
    expect(closed(rows, 'SA-SB')).toEqual(range(5, 10));
    await engine.pool.query(`UPDATE bulkflow.matches SET closed_at = now() - interval '2 days' WHERE state_a = 'SA' AND lds_hash IN ($1, $2)`, [
      Buffer.from(stateHash('SA', 5), 'hex'), Buffer.from(stateHash('SA', 6), 'hex'),
    ]);
    const purged = await purgeClosedMatches(engine.pool, { retentionMs: 24 * 3600_000, batchSize: 1 });
    expect(purged).toBe(2);
    const after = await records(['SA', 'SB']);
    expect(open(after, 'SA-SB')).toEqual(range(0, 5));
    expect(closed(after, 'SA-SB')).toEqual(range(7, 10));
    // A purged pair and hash that match again get their old id back.
    await run(await activate('SB', range(0, 10)));
    expect(idsByKey(await records(['SA', 'SB']))).toEqual(idsByKey(rows));
  });
});
