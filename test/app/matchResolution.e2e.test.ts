import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MatchView } from '../../src/engine/matchReads.js';
import { readHub } from '../support/eventHub.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, finalStatus, hashOf, putBlob } from '../support/uploads.js';
import { checkedFetch } from '../support/contract.js';

type Who = 'ca' | 'tx' | 'nv' | 'az' | 'operator' | 'admin';

const file = (state: string, hashes: number[]) => `${CSV_HEADER}\n${hashes.map((n) => `${hashOf(n)},${state}${n},K${state}${n}`).join('\n')}\n`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const TODAY = new Date().toISOString().slice(0, 10);
/** Free text a caseworker types: it may reach the record's two states and nowhere else. */
const MARKER = 'ZqxDisposition';

interface QueryBody {
  state: string;
  data: { results: Array<{ index: number; matches: Array<{ matchId: string; otherState: string; otherParticipant: { participantId: string; caseId: string | null }; status: string; created: boolean }> }> };
}

/**
 * Dispositions and real-time queries through the local host, with real tokens, the real Event Hubs client and the
 * host's log captured. CA holds 0..29, TX 20..49 (CA–TX records for 20..29), NV 1000..1009, AZ 500..509.
 */
describe('match resolution and real-time queries through the API', () => {
  let t: TestStack;
  const logLines: string[] = [];
  const refusals: string[] = [];
  const tokens = {} as Record<Who, string>;
  let record: MatchView;

  const call = async (who: Who, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await checkedFetch(`${t.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status >= 400) refusals.push(text);
    return { status: response.status, etag: response.headers.get('etag'), type: response.headers.get('content-type'), text, json: () => JSON.parse(text) };
  };
  const patch = (who: Who, state: string, ifMatch: string | undefined, body: unknown, matchId = record.matchId) =>
    call(who, 'PATCH', `/api/matches/${matchId}/dispositions/${state}`, body, ifMatch === undefined ? {} : { 'if-match': ifMatch });
  const query = (who: Who, state: string, body: unknown) => call(who, 'POST', `/api/states/${state}/match-queries`, body);

  beforeAll(async () => {
    t = await startTestStack({ MATCH_NEEDS_ACTION_DAYS: '0' }, { logLevel: 'trace', log: (line) => logLines.push(line) });
    tokens.ca = await t.token({ states: ['CA'] });
    tokens.tx = await t.token({ states: ['TX'] });
    tokens.nv = await t.token({ states: ['NV'] });
    tokens.az = await t.token({ states: ['AZ'] });
    tokens.operator = await t.token({ operator: true });
    tokens.admin = await t.token({ admin: true });
    const uploads: Array<[string, number[]]> = [['CA', range(0, 30)], ['TX', range(20, 50)], ['NV', range(1000, 1010)], ['AZ', range(500, 510)]];
    for (const [state, hashes] of uploads) await putBlob(t, `${state.toLowerCase()}/p.csv`, file(state, hashes));
    for (const [state] of uploads) expect((await finalStatus(t, `${state.toLowerCase()}/p.csv`)).status).toBe('complete');
    await waitFor('the CA–TX records', async () => {
      const { matches } = (await call('ca', 'GET', '/api/states/ca/matches?limit=100')).json() as { matches: MatchView[] };
      return matches.length === 10 ? matches : undefined;
    });
    const { matches } = (await call('ca', 'GET', '/api/states/ca/matches?limit=100')).json() as { matches: MatchView[] };
    record = matches[0]!;
  }, 240_000);
  afterAll(async () => t?.stop());

  describe('dispositions', () => {
    it('lets each of the record\'s two states record its own side, each change a new ETag', async () => {
      const read = await call('ca', 'GET', `/api/matches/${record.matchId}`);
      expect(read.etag).toBe('"0"');
      const ca = await patch('ca', 'CA', '"0"', { initial_action_taken: 'notice_sent', initial_action_at: TODAY, vulnerable_individual: true });
      expect(ca.status, ca.text).toBe(200);
      expect(ca.etag).toBe('"1"');
      expect(ca.json()).toMatchObject({ state: 'CA', version: 1, disposition: { initial_action_taken: 'notice_sent', initial_action_at: TODAY, vulnerable_individual: true }, otherDisposition: {} });
      const tx = await call('tx', 'PATCH', `/api/matches/${record.matchId}/dispositions/TX`, JSON.stringify({ initial_action_taken: 'client_provided_required_verification', initial_action_at: TODAY }),
        { 'content-type': 'application/merge-patch+json', 'if-match': '"1"' });
      expect(tx.status, tx.text).toBe(200);
      expect(tx.json()).toMatchObject({ state: 'TX', version: 2, otherDisposition: { initial_action_taken: 'notice_sent', vulnerable_individual: true } });
      // Both states read both sides.
      expect((await call('ca', 'GET', `/api/matches/${record.matchId}`)).json()).toMatchObject({ version: 2, otherDisposition: { initial_action_taken: 'client_provided_required_verification' } });
    });

    it('refuses a third state and operators as for reads (404), the other state\'s side (403), and a missing or stale If-Match', async () => {
      const body = { vulnerable_individual: false };
      const missing = await call('nv', 'GET', '/api/matches/AAAAAAAAAAAAAAAA');
      for (const who of ['nv', 'operator'] as const) {
        for (const side of ['CA', 'TX']) {
          const refused = await patch(who, side, '"2"', body);
          expect(refused.status, who).toBe(404);
          expect(refused.text).toBe(missing.text);
        }
      }
      expect((await patch('ca', 'TX', '"2"', body)).status).toBe(403);
      const stale = await patch('ca', 'CA', '"1"', body);
      expect([stale.status, stale.etag, stale.type]).toEqual([412, '"2"', 'application/problem+json']);
      const absent = await patch('ca', 'CA', undefined, body);
      expect(absent.status).toBe(428);
      expect((await patch('ca', 'CA', 'W/"2"', body)).status).toBe(412);
      expect((await call('ca', 'GET', `/api/matches/${record.matchId}`)).json()).toMatchObject({ version: 2, disposition: { vulnerable_individual: true } });
    });

    it('names each field that breaks a rule, never its value', async () => {
      const cases: Array<[unknown, string]> = [
        [{ initial_action_at: '2999-01-01' }, 'initial_action_at must not be in the future'],
        [{ final_disposition: 'benefits_denied', final_disposition_date: '2001-01-01' }, 'final_disposition_date must not be before initial_action_at'],
        [{ invalid_match_reason: 'gremlins' }, 'invalid_match_reason must be one of incorrect_client_information, system_error, other'],
        [{ invalid_match: true, invalid_match_reason: 'other', other_reasoning_for_invalid_match: `${MARKER}${'x'.repeat(500)}` }, 'other_reasoning_for_invalid_match must be at most 500 characters'],
        [{ [MARKER]: 1 }, 'unknown field; the fields are'],
        ['not json', 'the body is not valid JSON'],
      ];
      for (const [body, detail] of cases) {
        const refused = await patch('ca', 'CA', '"2"', body);
        expect(refused.status, refused.text).toBe(400);
        expect(refused.json().detail).toContain(detail);
        expect(refused.text).not.toContain(MARKER);
        expect(refused.text).not.toContain('2999');
      }
    });

    it('closes on both final dispositions, then refuses changes until an operator reopens it', async () => {
      expect((await patch('ca', 'CA', '"2"', { final_disposition: 'benefits_approved', final_disposition_date: TODAY })).status).toBe(200);
      const closing = await patch('tx', 'TX', '"3"', { final_disposition: 'benefits_denied', final_disposition_date: TODAY });
      expect(closing.json()).toMatchObject({ status: 'closed', closedReason: 'final_dispositions', version: 4 });
      expect((await patch('ca', 'CA', '"4"', { vulnerable_individual: false })).status).toBe(409);
      expect((await call('ca', 'POST', `/api/matches/${record.matchId}/reopen`, { reason: 'state_request' })).status).toBe(403);
      expect((await call('operator', 'POST', `/api/matches/${record.matchId}/reopen`, { reason: 'state_request' })).status).toBe(403);
      expect((await call('admin', 'POST', `/api/matches/${record.matchId}/reopen`, { reason: 'mood' })).status).toBe(400);
      const reopened = await call('admin', 'POST', `/api/matches/${record.matchId}/reopen`, { reason: 'state_request' });
      expect(reopened.status, reopened.text).toBe(200);
      // An operator learns the status and version, never the participants.
      expect(reopened.json()).toEqual({ matchId: record.matchId, status: 'open', version: 5 });
      expect((await call('admin', 'POST', `/api/matches/${record.matchId}/reopen`, { reason: 'state_request' })).status).toBe(409);
      // The operator's action is in the audit trail: who, which record, the outcome.
      const { rows } = await t.pool.query(`SELECT route, method, object_ids, outcome FROM bulkflow.audit_records WHERE route = 'matchReopen' ORDER BY id`);
      expect(rows.map((r) => [r.method, r.object_ids, r.outcome])).toEqual([
        ['POST', [record.matchId], 400], ['POST', [record.matchId], 200], ['POST', [record.matchId], 409],
      ]);
      expect((await patch('tx', 'TX', '"5"', { final_disposition: null, final_disposition_date: null })).json()).toMatchObject({ status: 'open', version: 6 });
    });

    it('closes when one state marks the match invalid', async () => {
      const { matches } = (await call('tx', 'GET', '/api/states/tx/matches?limit=100')).json() as { matches: MatchView[] };
      const other = matches.find((m) => m.matchId !== record.matchId)!;
      const invalid = await patch('tx', 'TX', '"0"', { invalid_match: true, invalid_match_reason: 'other', other_reasoning_for_invalid_match: `${MARKER} twins` }, other.matchId);
      expect(invalid.json()).toMatchObject({ status: 'closed', closedReason: 'invalid_match' });
      // The other state reads the reason; the text goes nowhere else (see the sentinel below).
      expect((await call('ca', 'GET', `/api/matches/${other.matchId}`)).json()).toMatchObject({ otherDisposition: { other_reasoning_for_invalid_match: `${MARKER} twins` } });
    });

    it('lists the open records whose own side has no initial action ("needs your action")', async () => {
      const list = async (who: Who, state: string) =>
        ((await call(who, 'GET', `/api/states/${state}/matches?status=needs-action&limit=100`)).json() as { matches: MatchView[] }).matches;
      // 10 records: one both acted on, one closed invalid.
      expect((await list('ca', 'ca')).map((m) => m.matchId).sort()).toHaveLength(8);
      expect((await list('tx', 'tx'))).toHaveLength(8);
      expect((await list('ca', 'ca')).some((m) => m.matchId === record.matchId)).toBe(false);
      expect((await call('nv', 'GET', '/api/states/ca/matches?status=needs-action')).status).toBe(403);
    });

    it('sends the other state exactly one dispositionUpdated per change, keyed by that state, ids and field names only', async () => {
      const events = await readHub(t, 'match-notifications', 'gov.bulkflow.matches.dispositionUpdated', 8);
      const ours = events.filter((e) => (e.data as { matchId: string }).matchId === record.matchId);
      expect(ours.map((e) => [e.partitionKey, (e.data as { version: number }).version]).sort()).toEqual([
        ['CA', 5], ['CA', 2], ['CA', 4], ['CA', 6], ['TX', 1], ['TX', 3], ['TX', 5],
      ].sort());
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(ours.find((e) => (e.data as { version: number }).version === 1)!.data).toEqual({
        state: 'TX', matchId: record.matchId, changedBy: 'CA', version: 1, fields: ['initial_action_taken', 'initial_action_at', 'vulnerable_individual'], status: 'open',
      });
      expect(JSON.stringify(events)).not.toMatch(/notice_sent|benefits_|\d{4}-\d{2}-\d{2}|ZqxDisposition/);
    });
  });

  describe('real-time query', () => {
    let first: QueryBody;
    it('answers each person\'s matches in the other states\' active uploads, one record per pair', async () => {
      const asked = await query('az', 'az', { data: [{ lds_hash: hashOf(25), participant_id: 'AZAPPLICANT', case_id: 'AZCASE' }, { lds_hash: hashOf(505) }, { lds_hash: hashOf(7777) }] });
      expect(asked.status, asked.text).toBe(200);
      first = asked.json();
      expect(first.data.results.map((r) => [r.index, r.matches.map((m) => [m.otherState, m.otherParticipant, m.status, m.created])])).toEqual([
        [0, [['CA', { participantId: 'CA25', caseId: 'KCA25' }, 'open', true], ['TX', { participantId: 'TX25', caseId: 'KTX25' }, 'open', true]]],
        [1, []], // only AZ holds 505
        [2, []],
      ]);
      // Each state of a record reads it; the asking side is the applicant the query named.
      const azCa = first.data.results[0]!.matches[0]!;
      expect((await call('ca', 'GET', `/api/matches/${azCa.matchId}`)).json()).toMatchObject({
        otherState: 'AZ', initiator: 'query', initiatingState: 'AZ', otherParticipant: { participantId: 'AZAPPLICANT', caseId: 'AZCASE' },
      });
      expect((await call('nv', 'GET', `/api/matches/${azCa.matchId}`)).status).toBe(404);

      // CA and TX are each told of their new record as bulk analysis tells them (matches.updated, keyed by the state),
      // with the query's request id (its audit record's) and the record's id: no hash, no participant.
      const { rows: [audit] } = await t.pool.query(`SELECT request_id FROM bulkflow.audit_records WHERE route = 'matchQuery' AND outcome = 200 ORDER BY id LIMIT 1`);
      const events = await readHub(t, 'match-notifications', 'gov.bulkflow.matches.updated', 7);
      const fromQueries = events.filter((e) => (e.data as { initiator?: string }).initiator === 'query').sort((x, y) => x.id.localeCompare(y.id));
      expect(fromQueries).toEqual(['CA', 'TX'].map((state, i) => ({
        id: `${audit.request_id}.matches.${state}`, partitionKey: state,
        data: { state, initiator: 'query', queryId: audit.request_id, queryState: 'AZ', new: 1, matchIds: [first.data.results[0]!.matches[i]!.matchId] },
      })));
    });

    it('finds the same records again when AZ\'s next upload holds the person, and its bulk analysis keeps them', async () => {
      await putBlob(t, 'az/p.csv', file('AZ', [...range(500, 510), 25]));
      await waitFor('AZ\'s match run to take the upload\'s row', async () => {
        const { matches } = (await call('az', 'GET', '/api/states/az/matches?limit=100')).json() as { matches: MatchView[] };
        return matches.length === 2 && matches.every((m) => m.participant.participantId === 'AZ25') ? matches : undefined;
      }, 120_000);
      const { matches } = (await call('az', 'GET', '/api/states/az/matches?limit=100')).json() as { matches: MatchView[] };
      expect(matches.map((m) => m.matchId).sort()).toEqual(first.data.results[0]!.matches.map((m) => m.matchId).sort());
      expect(matches.every((m) => m.status === 'open' && m.initiator === 'query' && m.participant.uploadId !== null)).toBe(true);
      const again = (await query('az', 'AZ', { data: [{ lds_hash: hashOf(25) }] })).json() as QueryBody;
      expect(again.data.results[0]!.matches.map((m) => [m.matchId, m.created])).toEqual(first.data.results[0]!.matches.map((m) => [m.matchId, false]));
    });

    it('takes 1 to 50 persons, each checked as an upload checks it: 400 with the position', async () => {
      const person = { lds_hash: hashOf(1) };
      const cases: Array<[unknown, string]> = [
        [{ data: Array.from({ length: 51 }, () => person) }, 'data holds 51 persons: a query takes 1 to 50'],
        [{ data: [] }, 'data holds 0 persons: a query takes 1 to 50'],
        [{ data: [person, { lds_hash: hashOf(0xabcdef).toUpperCase() }] }, 'data[1].lds_hash: lds_hash must be exactly 128 lowercase hexadecimal characters (SHA-512)'],
        [{ data: [person, person, { lds_hash: `${MARKER}` }] }, 'data[2].lds_hash: lds_hash must be exactly 128 lowercase hexadecimal characters (SHA-512)'],
        [{ data: [{}] }, 'data[0].lds_hash: lds_hash is required'],
        [{ data: [{ lds_hash: hashOf(3), case_id: `${MARKER}!` }] }, 'data[0].case_id: case_id may contain only letters, digits, hyphens and underscores'],
        [{ persons: [] }, 'the body must be {"data": [persons]}'],
      ];
      for (const [body, detail] of cases) {
        const refused = await query('az', 'AZ', body);
        expect(refused.status, refused.text).toBe(400);
        expect(refused.json().detail).toBe(detail);
      }
      expect((await query('az', 'AZ', { data: Array.from({ length: 50 }, (_, i) => ({ lds_hash: hashOf(600 + i) })) })).status).toBe(200);
    });

    it('lets only the state\'s own role query for it', async () => {
      const body = { data: [{ lds_hash: hashOf(25) }] };
      expect((await query('ca', 'AZ', body)).status).toBe(403);
      expect((await query('operator', 'AZ', body)).status).toBe(403);
      const anonymous = await checkedFetch(`${t.url}/api/states/AZ/match-queries`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(anonymous.status).toBe(401);
    });
  });

  describe('personal data', () => {
    it('puts no hash and no disposition text in logs, events or errors', async () => {
      const { rows } = await t.pool.query<{ body: string }>('SELECT o::text AS body FROM bulkflow.outbox o');
      const dir = join(t.stack.dataDir, 'eventhubs');
      const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
      const hub = await Promise.all(files.map((f) => readFile(join(f.parentPath, f.name), 'latin1')));
      const asked = [25, 505, 7777, 1, 2, 3].map(hashOf);
      expect(logLines.length).toBeGreaterThan(20);
      expect(refusals.length).toBeGreaterThan(10);
      for (const [where, texts] of Object.entries({ logLines, outbox: rows.map((r) => r.body), hub, refusals })) {
        expect(texts.filter((text) => text.includes(MARKER)), where).toEqual([]);
        expect(texts.filter((text) => asked.some((hash) => text.toLowerCase().includes(hash)) || /[0-9a-f]{128}/i.test(text)), where).toEqual([]);
        expect(texts.filter((text) => /notice_sent|benefits_approved|AZAPPLICANT/.test(text)), where).toEqual([]);
      }
      expect(logLines.some((line) => line.includes('match query: state=AZ persons=3 hits=2 created=2'))).toBe(true);
      // Each query is in the audit trail with how many persons it asked about and its hits (the match ids and how
      // many), never a hash.
      const { rows: audited } = await t.pool.query(`SELECT a::text AS body, records_returned, persons_queried, states FROM bulkflow.audit_records a WHERE route = 'matchQuery' AND outcome = 200 ORDER BY id`);
      expect(audited.map((r) => [r.persons_queried, r.records_returned, r.states])).toEqual([[3, 2, ['AZ', 'CA', 'TX']], [1, 2, ['AZ', 'CA', 'TX']], [50, 0, ['AZ']]]);
      expect(audited.filter((r) => asked.some((hash) => r.body.includes(hash)))).toEqual([]);
    });
  });
});
