import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MatchView, PairCount } from '../../src/engine/matchReads.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, finalStatus, hashOf, putBlob } from '../support/uploads.js';
import { checkedFetch } from '../support/contract.js';

type Who = 'ca' | 'tx' | 'nv' | 'operator' | 'none';
const WHO: Who[] = ['ca', 'tx', 'nv', 'operator', 'none'];

/** A state's file: participant `${state}${n}`, case `K${state}${n}` for each hash number. */
const file = (state: string, hashes: number[]) => `${CSV_HEADER}\n${hashes.map((n) => `${hashOf(n)},${state}${n},K${state}${n}`).join('\n')}\n`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * The match API through the local host with real tokens. CA holds 0..59, TX 40..99, OR 50..69 (so hashes 50..59 are
 * in all three), NV 1000..1009 (no match). Callers: CA, TX (the two states of a CA–TX record), NV (a third state),
 * an operator, no token.
 */
describe('match records through the API', () => {
  let t: TestStack;
  const tokens = {} as Record<Who, string | undefined>;
  let caTx: MatchView;

  const call = (who: Who, path: string) => {
    const token = tokens[who];
    return checkedFetch(`${t.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  };
  const body = async <T>(who: Who, path: string): Promise<T> => {
    const response = await call(who, path);
    expect(response.status, `${who} ${path}`).toBe(200);
    return (await response.json()) as T;
  };
  /** Every record of a state and status, a page of `limit` at a time, as `who` reads them. */
  const allPages = async (who: Who, state: string, status: string, limit: number) => {
    const pages: MatchView[][] = [];
    let after = '';
    do {
      const page = await body<{ matches: MatchView[]; next: string | null }>(who, `/api/states/${state}/matches?status=${status}&limit=${limit}${after ? `&after=${after}` : ''}`);
      pages.push(page.matches);
      after = page.next ?? '';
    } while (after);
    return pages;
  };

  beforeAll(async () => {
    t = await startTestStack();
    tokens.ca = await t.token({ states: ['CA'] });
    tokens.tx = await t.token({ states: ['TX'] });
    tokens.nv = await t.token({ states: ['NV'] });
    tokens.operator = await t.token({ operator: true });
    tokens.none = undefined;
    const uploads: Array<[string, number[]]> = [['CA', range(0, 60)], ['TX', range(40, 100)], ['OR', range(50, 70)], ['NV', range(1000, 1010)]];
    for (const [state, hashes] of uploads) await putBlob(t, `${state.toLowerCase()}/p.csv`, file(state, hashes));
    for (const [state] of uploads) expect((await finalStatus(t, `${state.toLowerCase()}/p.csv`)).status).toBe('complete');
    // Every upload's match run has happened: the pairs hold every shared hash.
    await waitFor('every match run', async () => {
      const { pairs } = await body<{ pairs: PairCount[] }>('operator', '/api/matches');
      return pairs.reduce((total, pair) => total + pair.open, 0) === 20 + 10 + 20 ? pairs : undefined;
    });
    const { matches } = await body<{ matches: MatchView[] }>('ca', '/api/states/ca/matches?limit=1000');
    caTx = matches.find((m) => m.otherState === 'TX')!;
  }, 180_000);
  afterAll(async () => t?.stop());

  const routes: Array<{ label: string; path: () => string; expected: Record<Who, number> }> = [
    { label: "CA's records", path: () => '/api/states/ca/matches', expected: { ca: 200, tx: 403, nv: 403, operator: 403, none: 401 } },
    { label: "TX's closed records", path: () => '/api/states/TX/matches?status=closed', expected: { ca: 403, tx: 200, nv: 403, operator: 403, none: 401 } },
    { label: 'a CA–TX record', path: () => `/api/matches/${caTx.matchId}`, expected: { ca: 200, tx: 200, nv: 404, operator: 404, none: 401 } },
    { label: 'a record that does not exist', path: () => '/api/matches/AAAAAAAAAAAAAAAA', expected: { ca: 404, tx: 404, nv: 404, operator: 404, none: 401 } },
    { label: 'counts per pair', path: () => '/api/matches', expected: { ca: 200, tx: 200, nv: 200, operator: 200, none: 401 } },
  ];
  for (const route of routes) {
    it(`${route.label}: ${WHO.map((who) => `${who} ${route.expected[who]}`).join(', ')}`, async () => {
      for (const who of WHO) {
        const response = await call(who, route.path());
        const text = await response.text();
        expect(response.status, `${who}: ${text}`).toBe(route.expected[who]);
        // A refusal names no participant and no case of anyone.
        if (response.status >= 400) expect(text, who).not.toMatch(/"(CA|TX|OR)\d+"|K(CA|TX|OR)\d+/);
      }
    });
  }

  it('answers a record of two other states exactly like one that does not exist, to a third state and to an operator', async () => {
    for (const who of ['nv', 'operator'] as const) {
      const foreign = await call(who, `/api/matches/${caTx.matchId}`);
      const missing = await call(who, '/api/matches/AAAAAAAAAAAAAAAA');
      expect([foreign.status, missing.status]).toEqual([404, 404]);
      expect(await foreign.text(), who).toBe(await missing.text());
    }
  });

  it("gives each of the two states the record with the other state's participant, and nothing of a third", async () => {
    const pages = await allPages('tx', 'tx', 'open', 7);
    expect(pages.slice(0, -1).every((page) => page.length === 7)).toBe(true);
    const tx = pages.flat();
    expect(tx.map((m) => m.matchId)).toEqual([...tx.map((m) => m.matchId)].sort());
    expect(tx.filter((m) => m.otherState === 'CA').length).toBe(20);
    expect(tx.filter((m) => m.otherState === 'OR').length).toBe(20);
    for (const m of tx) {
      const n = Number(m.participant.participantId!.slice(2));
      expect(m).toMatchObject({ status: 'open', state: 'TX', participant: { participantId: `TX${n}`, caseId: `KTX${n}` } });
      expect(m.otherParticipant).toEqual({ participantId: `${m.otherState}${n}`, caseId: `K${m.otherState}${n}` });
      // Hashes 50..59 are held by CA, TX and OR: a record of one pair never carries the third state.
      const third = m.otherState === 'CA' ? 'OR' : 'CA';
      expect(JSON.stringify(m)).not.toMatch(new RegExp(`"K?${third}\\d+"|"${third.toLowerCase()}-`));
    }
    // The same record read by each of its two states, through the list and by id.
    const fromTx = tx.find((m) => m.matchId === caTx.matchId)!;
    expect(await body<MatchView>('tx', `/api/matches/${caTx.matchId}`)).toEqual(fromTx);
    expect(await body<MatchView>('ca', `/api/matches/${caTx.matchId}`)).toEqual(caTx);
    expect([caTx.participant.participantId, caTx.otherParticipant.participantId]).toEqual([fromTx.otherParticipant.participantId, fromTx.participant.participantId]);
    expect(await body<{ matches: MatchView[] }>('nv', '/api/states/nv/matches')).toEqual({ state: 'NV', status: 'open', matches: [], next: null });
  });

  it('gives operators and third states counts per pair only', async () => {
    const all = await body<{ pairs: PairCount[] }>('operator', '/api/matches');
    expect(all.pairs).toEqual([
      { stateA: 'CA', stateB: 'OR', open: 10, closed: 0 },
      { stateA: 'CA', stateB: 'TX', open: 20, closed: 0 },
      { stateA: 'OR', stateB: 'TX', open: 20, closed: 0 },
    ]);
    expect((await body<{ pairs: PairCount[] }>('ca', '/api/matches')).pairs.map((p) => `${p.stateA}-${p.stateB}`)).toEqual(['CA-OR', 'CA-TX']);
    expect(await body('nv', '/api/matches')).toEqual({ pairs: [] });
  });

  it('lists records a re-upload closed under status=closed, saying which state closed them', async () => {
    await putBlob(t, 'tx/p.csv', file('TX', range(45, 100)));
    await waitFor('TX records with CA to close', async () => {
      const { matches } = await body<{ matches: MatchView[] }>('ca', '/api/states/ca/matches?status=closed');
      return matches.length === 5 ? matches : undefined;
    });
    const closed = (await allPages('ca', 'ca', 'closed', 2)).flat();
    expect(closed.map((m) => [m.otherState, m.otherParticipant.participantId, m.closedByState]).sort()).toEqual(range(40, 45).map((n) => ['TX', `TX${n}`, 'TX']));
    expect(closed.every((m) => m.status === 'closed' && m.closedAt !== null)).toBe(true);
  });

  it('refuses a bad status, cursor, limit or state with a problem saying which', async () => {
    const refusals: Array<[string, string]> = [
      ['/api/states/ca/matches?status=gone', 'status must be open, closed or needs-action'],
      ['/api/states/ca/matches?status=OPEN', 'status must be open, closed or needs-action'],
      ['/api/states/ca/matches?after=not-a-cursor', 'after must be a cursor returned as next'],
      ['/api/states/ca/matches?limit=0', 'limit must be an integer from 1 to 1000'],
      ['/api/states/ca/matches?limit=1001', 'limit must be an integer from 1 to 1000'],
      ['/api/states/ca/matches?limit=2.5', 'limit must be an integer from 1 to 1000'],
      ['/api/states/c1/matches', 'state must be the USPS code of a state, DC or a territory the program serves (e.g. CA)'],
      // Two letters are not a state: XX is no jurisdiction the program serves.
      ['/api/states/xx/matches', 'state must be the USPS code of a state, DC or a territory the program serves (e.g. CA)'],
    ];
    for (const [path, detail] of refusals) {
      const response = await call('ca', path);
      expect(response.status, path).toBe(400);
      expect(response.headers.get('content-type'), path).toBe('application/problem+json');
      expect(await response.json(), path).toEqual({ type: 'about:blank', title: 'Bad request', status: 400, detail });
    }
  });
});
