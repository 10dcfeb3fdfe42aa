import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { httpRoutes, type HttpFunctionName } from '../../src/functions/httpRoutes.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, finalStatus, hashOf, validRows } from '../support/uploads.js';
import { checkedFetch } from '../support/contract.js';

type Who = 'stateA' | 'stateB' | 'operator' | 'none' | 'expired' | 'tampered' | 'wrongAudience';
const WHO: Who[] = ['stateA', 'stateB', 'operator', 'none', 'expired', 'tampered', 'wrongAudience'];

/**
 * Every route × every kind of caller, against the local stack with real tokens: state A (CA), state B (TX), an
 * operator, and four callers without a valid token. Exact statuses, and no denied body carries A's ids or counts.
 */
describe('access to every route', () => {
  let t: TestStack;
  const tokens = {} as Record<Who, string | undefined>;
  let ca: UploadStatusBody;
  let tx: UploadStatusBody;
  let matchId: string;
  let sessionId: string;
  // Row counts no other number in a response is likely to equal.
  const CA_ROWS = 1237;
  const TX_ROWS = 2341;

  beforeAll(async () => {
    t = await startTestStack();
    tokens.stateA = await t.token({ states: ['CA'], clientId: 'ca-system' });
    tokens.stateB = await t.token({ states: ['TX'], clientId: 'tx-system' });
    tokens.operator = await t.token({ operator: true, clientId: 'ops' });
    tokens.none = undefined;
    tokens.expired = await t.token({ states: ['CA'], expiresInSeconds: -600 });
    // State B's token with its roles widened to CA: the signature no longer matches.
    const [header, payload, signature] = tokens.stateB.split('.');
    const widened = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), roles: ['State.CA', 'State.TX'] };
    tokens.tampered = `${header}.${Buffer.from(JSON.stringify(widened)).toString('base64url')}.${signature}`;
    tokens.wrongAudience = await t.token({ states: ['CA'], audience: 'api://another-app' });
    const put = (state: string, rows: number, token: string) =>
      t.api(`/api/states/${state}/uploads/access.csv`, { method: 'PUT', token, body: `${CSV_HEADER}\n${validRows(0, rows)}` });
    expect((await put('ca', CA_ROWS, tokens.stateA)).status).toBe(202);
    expect((await put('tx', TX_ROWS, tokens.stateB)).status).toBe(202);
    [ca, tx] = await Promise.all([finalStatus(t, 'ca/access.csv'), finalStatus(t, 'tx/access.csv')]);
    const opened = await t.api('/api/states/CA/upload-sessions', {
      method: 'POST', token: tokens.stateA, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fileName: 'parts.csv', size: sessionFile.length }),
    });
    sessionId = ((await opened.json()) as { id: string }).id;
    expect([ca.rowsCommitted, tx.rowsCommitted]).toEqual([CA_ROWS, TX_ROWS]);
    // The two files share their first CA_ROWS hashes: a CA–TX match record for each, once both runs are done.
    matchId = await waitFor('the CA–TX match records', async () => {
      const { rows } = await t.pool.query<{ n: number; id: string }>('SELECT count(*)::int AS n, min(match_id) AS id FROM bulkflow.matches');
      return rows[0]!.n === CA_ROWS ? rows[0]!.id : undefined;
    });
  }, 180_000);
  afterAll(async () => {
    await t?.stop();
  });

  const call = (who: Who, path: string, init: RequestInit = {}) => {
    const token = tokens[who];
    const headers = { ...(init.headers as Record<string, string> | undefined), ...(token ? { authorization: `Bearer ${token}` } : {}) };
    return checkedFetch(`${t.url}${path}`, { ...init, headers });
  };
  const small = `${CSV_HEADER}\n${validRows(10_000, 10_003)}`;
  // A resumable upload of state A's, opened in beforeAll: the matrix reads it, sends its one part and commits it.
  const sessionFile = Buffer.from(`${CSV_HEADER}\n${validRows(20_000, 20_003)}`);
  const sessionPath = () => `/api/states/CA/upload-sessions/${sessionId}`;
  const partInit = (): RequestInit => ({
    method: 'PUT', body: sessionFile, headers: { 'content-digest': `sha-256=:${createHash('sha256').update(sessionFile).digest('base64')}:` },
  });

  /** `passed`: callers the edge let through whose request the handler refused (audited with that outcome, unlike a refusal at the edge). */
  interface Case { fn: HttpFunctionName; label: string; path: () => string; init?: RequestInit; expected: Partial<Record<Who, number>>; passed?: readonly Who[] }
  const cases: Case[] = [
    { fn: 'uploadFile', label: 'PUT A upload', path: () => '/api/states/CA/uploads/table.csv', init: { method: 'PUT', body: small }, expected: { stateA: 202, stateB: 403, operator: 403 } },
    {
      fn: 'createUploadSession', label: 'open an upload in parts for A', path: () => '/api/states/CA/upload-sessions',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fileName: 'opened.csv', size: 1000 }) }, expected: { stateA: 201, stateB: 403, operator: 403 },
    },
    { fn: 'uploadSessions', label: "A's uploads in parts", path: () => '/api/states/CA/upload-sessions', expected: { stateA: 200, stateB: 403, operator: 403 } },
    { fn: 'uploadSession', label: "A's upload in parts", path: sessionPath, expected: { stateA: 200, stateB: 403, operator: 403 } },
    { fn: 'uploadSessionPart', label: "a part of A's upload", path: () => `${sessionPath()}/parts/1`, init: partInit(), expected: { stateA: 200, stateB: 403, operator: 403 } },
    { fn: 'commitUploadSession', label: "A's upload in parts committed", path: () => `${sessionPath()}/commit`, init: { method: 'POST' }, expected: { stateA: 202, stateB: 403, operator: 403 } },
    { fn: 'stateUploads', label: "A's uploads", path: () => '/api/states/ca/uploads', expected: { stateA: 200, stateB: 403, operator: 200 } },
    { fn: 'stateSummaries', label: 'states', path: () => '/api/states?uploads=5', expected: { stateA: 200, stateB: 200, operator: 200 } },
    { fn: 'uploadStatus', label: "A's upload by id", path: () => `/api/uploads/${ca.uploadId}`, expected: { stateA: 200, stateB: 404, operator: 200 } },
    { fn: 'uploadStatus', label: "A's upload by instance id", path: () => `/api/uploads/${ca.instanceId}`, expected: { stateA: 200, stateB: 404, operator: 200 } },
    { fn: 'uploadStatus', label: "A's upload by blob", path: () => `/api/uploads?blob=${encodeURIComponent(ca.blobName)}`, expected: { stateA: 200, stateB: 404, operator: 200 } },
    { fn: 'uploadErrors', label: "A's upload errors", path: () => `/api/uploads/${ca.uploadId}/errors`, expected: { stateA: 200, stateB: 404, operator: 200 } },
    { fn: 'stateMatches', label: "A's match records", path: () => '/api/states/ca/matches', expected: { stateA: 200, stateB: 403, operator: 403 } },
    { fn: 'matchRecord', label: 'an A–B match record', path: () => `/api/matches/${matchId}`, expected: { stateA: 200, stateB: 200, operator: 404 } },
    // Without If-Match the record's own state passes the access rule and meets the precondition (428); the other state
    // may not write CA's side (403); anyone else finds no record (404). The 428 is the handler's answer to a granted
    // caller, so it is audited. The 200 path: test/app/matchResolution.e2e.test.ts.
    {
      fn: 'matchDisposition', label: "CA's side of an A–B match record", path: () => `/api/matches/${matchId}/dispositions/CA`,
      init: { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ vulnerable_individual: false }) },
      expected: { stateA: 428, stateB: 403, operator: 404 }, passed: ['stateA'],
    },
    { fn: 'matchReopen', label: 'reopen an A–B match record', path: () => `/api/matches/${matchId}/reopen`, init: { method: 'POST' }, expected: { stateA: 403, stateB: 403, operator: 403 } },
    {
      fn: 'matchQuery', label: 'a real-time match query of A', path: () => '/api/states/CA/match-queries',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ lds_hash: hashOf(987_654) }] }) },
      expected: { stateA: 200, stateB: 403, operator: 403 },
    },
    { fn: 'matchPairs', label: 'match counts per state pair', path: () => '/api/matches', expected: { stateA: 200, stateB: 200, operator: 200 } },
    { fn: 'auditRecords', label: 'the audit trail', path: () => '/api/audit', expected: { stateA: 200, stateB: 200, operator: 200 } },
    // B passes the edge (a state role may read audit) and the handler refuses A's trail: the attempt is audited.
    { fn: 'auditRecords', label: "A's audit trail", path: () => '/api/audit?state=CA', expected: { stateA: 200, stateB: 403, operator: 200 }, passed: ['stateB'] },
    { fn: 'orchestration', label: "A's upload's orchestration steps", path: () => `/api/uploads/${ca.uploadId}/orchestration`, expected: { stateA: 403, stateB: 403, operator: 200 } },
    // Operator.Admin only: the operator here holds Operator.Read (test/dashboard/console.e2e.test.ts acts as an admin).
    { fn: 'orchestrationAction', label: "terminate A's orchestration", path: () => `/api/uploads/${ca.uploadId}/orchestration/terminate`, init: { method: 'POST' }, expected: { stateA: 403, stateB: 403, operator: 403 } },
    { fn: 'dashboard', label: 'dashboard page', path: () => '/api/dashboard/', expected: { stateA: 200, stateB: 200, operator: 200, none: 200, expired: 200, tampered: 200, wrongAudience: 200 } },
    { fn: 'dashboard', label: 'dashboard sign-in settings', path: () => '/api/dashboard/config.json', expected: { stateA: 200, stateB: 200, operator: 200, none: 200, expired: 200, tampered: 200, wrongAudience: 200 } },
    { fn: 'openApi', label: 'the OpenAPI document', path: () => '/api/openapi.json', expected: { stateA: 200, stateB: 200, operator: 200, none: 200, expired: 200, tampered: 200, wrongAudience: 200 } },
    { fn: 'asyncApi', label: 'the AsyncAPI document', path: () => '/api/asyncapi.json', expected: { stateA: 200, stateB: 200, operator: 200, none: 200, expired: 200, tampered: 200, wrongAudience: 200 } },
    { fn: 'eventSchema', label: 'an event\'s data schema', path: () => '/api/event-schemas/gov.bulkflow.upload.completed', expected: { stateA: 200, stateB: 200, operator: 200, none: 200, expired: 200, tampered: 200, wrongAudience: 200 } },
  ];

  it('covers every route in the table', () => {
    expect([...new Set(cases.map((c) => c.fn))].sort()).toEqual(Object.keys(httpRoutes).sort());
  });

  // Every route that returns participant-level data (match records, a real-time query's hits), changes something
  // (uploads, dispositions, operator actions) or reads the audit trail declares an audit rule; the matrix below then
  // asserts one record per granted call and none for a refusal. The others return counts, statuses and row-error
  // reasons (never row values or participant ids), or nothing personal.
  const AUDITED: HttpFunctionName[] = [
    'uploadFile', 'createUploadSession', 'uploadSession', 'uploadSessionPart', 'commitUploadSession',
    'stateMatches', 'matchRecord', 'matchDisposition', 'matchReopen', 'matchQuery', 'orchestrationAction', 'auditRecords',
  ];
  it('audits every data route and the audit trail itself, and only those', () => {
    const audited = (Object.keys(httpRoutes) as HttpFunctionName[]).filter((fn) => (httpRoutes[fn] as { audit?: unknown }).audit !== undefined);
    expect(audited.sort()).toEqual([...AUDITED].sort());
  });

  const CALLER_IDS: Partial<Record<Who, string>> = { stateA: 'ca-system', stateB: 'tx-system', operator: 'ops' };
  const lastAuditId = async () => (await t.pool.query<{ id: string }>('SELECT coalesce(max(id), 0)::text AS id FROM bulkflow.audit_records')).rows[0]!.id;
  const auditSince = async (id: string) =>
    (await t.pool.query<{ caller_id: string; route: string; method: string; states: string[]; object_ids: string[]; records_returned: number | null; outcome: number; request_id: string; roles: string[] }>(
      'SELECT * FROM bulkflow.audit_records WHERE id > $1 ORDER BY id', [id])).rows;

  // Before the matrix below: its PUT replaces CA's active upload, which closes the CA–TX records.
  it('audits what was read: the states and ids of match records, and the upload an upload created', async () => {
    const before = await lastAuditId();
    const page = (await (await call('stateA', '/api/states/ca/matches?limit=7')).json()) as { matches: Array<{ matchId: string }> };
    const one = (await call('stateB', `/api/matches/${matchId}`)).status;
    const upload = (await (await call('stateA', '/api/states/CA/uploads/audited.csv', { method: 'PUT', body: small })).json()) as { uploadId: string };
    expect(one).toBe(200);
    const [list, record, put] = await auditSince(before);
    expect(list).toMatchObject({ route: 'stateMatches', states: ['CA', 'TX'], records_returned: 7, object_ids: page.matches.map((m) => m.matchId), roles: ['State.CA'] });
    expect(record).toMatchObject({ route: 'matchRecord', caller_id: 'tx-system', states: ['CA', 'TX'], records_returned: 1, object_ids: [matchId] });
    expect(put).toMatchObject({ route: 'uploadFile', method: 'PUT', states: ['CA'], records_returned: null, object_ids: [upload.uploadId], outcome: 202 });
    // State A reads who read its data: its own reads and state B's read of the shared record; the operator reads all.
    const audit = async (who: Who, query = '') => ((await (await call(who, `/api/audit${query}`)).json()) as { records: Array<{ id: string; callerId: string }>; next: string | null });
    expect((await audit('stateA')).records.map((r) => r.callerId)).toContain('tx-system');
    const paged = await audit('operator', '?limit=2');
    expect(paged.records).toHaveLength(2);
    expect((await audit('operator', `?limit=2&after=${paged.next}`)).records[0]!.id).not.toBe(paged.records[1]!.id);
    expect((await call('stateA', '/api/audit?from=yesterday')).status).toBe(400);
    // Each read of the trail is in it: who read it, whose records, how many.
    const reads = await auditSince(before);
    expect(reads.filter((r) => r.route === 'auditRecords').map((r) => [r.caller_id, r.records_returned, r.outcome])).toEqual([
      ['ca-system', expect.any(Number), 200], ['ops', 2, 200], ['ops', expect.any(Number), 200],
    ]);
    expect(reads.find((r) => r.route === 'auditRecords')!.states).toEqual(expect.arrayContaining(['CA', 'TX']));
  });

  it('withholds the data when its audit record cannot be written (503), and returns it once it can', async () => {
    await t.pool.query('REVOKE INSERT ON bulkflow.audit_records FROM bulkflow_app');
    try {
      const refused = await call('stateB', `/api/matches/${matchId}`);
      const body = await refused.text();
      expect(refused.status, body).toBe(503);
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
      expect(body).not.toContain('participant');
      expect(body).not.toContain(matchId);
    } finally {
      await t.pool.query(`GRANT INSERT (caller_id, client_id, roles, states, route, method, object_ids, records_returned, persons_queried, outcome, request_id)
        ON bulkflow.audit_records TO bulkflow_app`);
    }
    expect((await call('stateB', `/api/matches/${matchId}`)).status).toBe(200);
  });

  for (const c of cases) {
    const audited = (httpRoutes[c.fn] as { audit?: unknown }).audit !== undefined;
    it(`${c.label}: ${WHO.map((who) => `${who} ${c.expected[who] ?? 401}`).join(', ')}${audited ? '; each granted call audited once' : ''}`, async () => {
      for (const who of WHO) {
        const before = await lastAuditId();
        const response = await call(who, c.path(), c.init);
        const body = await response.text();
        const expected = c.expected[who] ?? 401;
        expect(response.status, `${who}: ${body}`).toBe(expected);
        // One audit record per granted call of an audited route, written before the answer left; none for a refusal.
        const records = await auditSince(before);
        if (audited && (expected < 400 || c.passed?.includes(who))) {
          expect(records, `${who} ${c.label}`).toHaveLength(1);
          expect(records[0]).toMatchObject({ caller_id: CALLER_IDS[who], route: c.fn, method: c.init?.method ?? 'GET', outcome: expected });
          expect(records[0]!.request_id).not.toBe('');
          expect(records[0]!.roles.length).toBeGreaterThan(0);
        } else {
          expect(records, `${who} ${c.label}`).toEqual([]);
        }
        if (expected === 401) expect(response.headers.get('www-authenticate'), who).toMatch(/^Bearer realm="bulkflow"/);
        if (response.status >= 400) {
          // A denied answer says nothing about state A's uploads.
          for (const secret of [ca.uploadId, ca.instanceId.replace(/^ingest-/, ''), 'uploads/ca/', String(CA_ROWS)]) {
            expect(body, `${who} ${c.label}`).not.toContain(secret);
          }
        }
      }
    });
  }

  it("shows each state only its own states and uploads; the operator every state", async () => {
    const states = async (who: Who) => ((await (await call(who, '/api/states?uploads=5')).json()) as { states: Array<{ state: string; recentUploads: UploadStatusBody[] }> }).states;
    const b = await states('stateB');
    expect(b.map((s) => s.state)).toEqual(['TX']);
    expect(JSON.stringify(b)).not.toContain(ca.uploadId);
    expect(JSON.stringify(b)).not.toContain(String(CA_ROWS));
    expect((await states('stateA')).map((s) => s.state)).toEqual(['CA']);
    expect((await states('operator')).map((s) => s.state).sort()).toEqual(['CA', 'TX']);
    // A state role lists its state even before the first upload.
    const fresh = await t.token({ states: ['NV'] });
    const nv = (await (await t.api('/api/states', { token: fresh })).json()) as { states: Array<{ state: string; uploads: number }> };
    expect(nv.states).toEqual([{ state: 'NV', uploads: 0, activeUploadId: null, running: 0, lastRegisteredAt: null }]);
  });

  it('answers an id of another state exactly as an id that does not exist', async () => {
    const made = `ca-${'0'.repeat(20)}`;
    const foreign = await call('stateB', `/api/uploads/${ca.uploadId}`);
    const missing = await call('stateB', `/api/uploads/${made}`);
    expect([foreign.status, missing.status]).toEqual([404, 404]);
    expect(await foreign.text()).toBe(await missing.text());
    expect((await call('stateA', `/api/uploads/${tx.uploadId}/errors`)).status).toBe(404);
  });

  it('refuses a valid token that carries no bulkflow role (403) and a token signed with another algorithm (401)', async () => {
    expect((await t.api('/api/states', { token: await t.token({}) })).status).toBe(403);
    const claims = JSON.parse(Buffer.from(tokens.stateA!.split('.')[1]!, 'base64url').toString());
    const hmac = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long'));
    expect((await t.api('/api/states', { token: hmac })).status).toBe(401);
  });
});
