import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRoutes, type AnyHttpRoute } from '../../src/functions/httpRoutes.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, finalStatus, validRows } from '../support/uploads.js';

type Who = 'stateA' | 'stateB' | 'operator' | 'admin' | 'unknownState';
const WHO: Who[] = ['stateA', 'stateB', 'operator', 'admin', 'unknownState'];
const BLOB_RULE = 'blob must be the name of an upload\'s blob in the uploads container, such as ca/file.csv';
const STATE_RULE = 'state must be the USPS code of a state, DC or a territory the program serves (e.g. CA)';

/**
 * What no input may do: answer 5xx, or refuse in any shape but an RFC 9457 problem detail. Every route of the table
 * is driven with hostile path segments and query values (NUL bytes, malformed escapes, huge numbers, 10 kB strings,
 * unicode, unknown states) under valid tokens of every kind, against the whole local stack with a real upload and a
 * real match record, so valid ids carry hostile values through the guard to the handlers' queries.
 */
describe('hostile input at the HTTP edge', () => {
  let t: TestStack;
  const tokens = {} as Record<Who, string>;
  let ca: UploadStatusBody;
  let matchId: string;

  beforeAll(async () => {
    t = await startTestStack();
    tokens.stateA = await t.token({ states: ['CA'], clientId: 'ca-system' });
    tokens.stateB = await t.token({ states: ['TX'], clientId: 'tx-system' });
    tokens.operator = await t.token({ operator: true, clientId: 'ops' });
    tokens.admin = await t.token({ admin: true, clientId: 'ops-admin' });
    // A role for a code the program does not serve: no state at all.
    tokens.unknownState = await t.token({ states: ['XX'], clientId: 'xx-system' });
    // CA's file has rejected rows (their errors page by the `after` cursor) and shares its rows with TX's: a match.
    const put = (state: string, body: string, token: string) => t.api(`/api/states/${state}/uploads/hostile.csv`, { method: 'PUT', token, body });
    expect((await put('ca', `${CSV_HEADER}\n${validRows(0, 100)}not-a-hash,p1,c1\nnot-a-hash,p2,c2\n`, tokens.stateA)).status).toBe(202);
    expect((await put('tx', `${CSV_HEADER}\n${validRows(0, 5)}`, tokens.stateB)).status).toBe(202);
    [ca] = await Promise.all([finalStatus(t, 'ca/hostile.csv'), finalStatus(t, 'tx/hostile.csv')]);
    expect([ca.status, ca.rowsRejected]).toEqual(['complete', 2]);
    matchId = await waitFor('a CA–TX match record', async () => {
      const { rows } = await t.pool.query<{ id: string | null }>('SELECT min(match_id) AS id FROM bulkflow.matches');
      return rows[0]!.id ?? undefined;
    });
  }, 180_000);
  afterAll(async () => {
    await t?.stop();
  });

  const call = (who: Who, path: string, method = 'GET') =>
    t.api(path, { method, token: tokens[who], ...(method === 'PUT' ? { body: `${CSV_HEADER}\n${validRows(0, 2)}` } : {}) });

  /** An answer from the app: never a 5xx; a refusal is a problem detail whose status is the answer's. */
  async function expectNoFiveHundredAndProblems(response: Response, label: string): Promise<{ status: number; body: string }> {
    const body = await response.text();
    expect(response.status, `${label}: ${body.slice(0, 300)}`).toBeLessThan(500);
    // Past 16 KB of request head Node's server refuses before any route (431), as Kestrel does past 8 KB (414).
    if (response.status >= 400 && response.status !== 431 && response.status !== 414) {
      expect(response.headers.get('content-type'), `${label}: ${body.slice(0, 300)}`).toBe('application/problem+json');
      expect((JSON.parse(body) as { status: number }).status, label).toBe(response.status);
    }
    return { status: response.status, body };
  }

  it('refuses the values that reached PostgreSQL and answered 500, saying which parameter (or the id lookup\'s 404)', async () => {
    const errors = `/api/uploads/${ca.uploadId}/errors`;
    const missingUpload = await (await call('operator', `/api/uploads/ca-${'0'.repeat(20)}`)).text();
    const missingMatch = await (await call('stateA', `/api/matches/${'A'.repeat(16)}`)).text();
    const cases: Array<[Who, string, number, string | { same: string }]> = [
      // An id no upload or match can have answers exactly as one that does not exist (a NUL in a path the host
      // refuses first, as Kestrel does: 400, a problem detail too).
      ['operator', '/api/uploads/x%00y', 400, 'The path contains null characters.'],
      ['operator', '/api/uploads/%00/errors', 400, 'The path contains null characters.'],
      ['stateA', '/api/matches/%00aaaaaaaaaaaaaaa', 400, 'The path contains null characters.'],
      ['operator', '/api/uploads/x%E2%80%AEy', 404, { same: missingUpload }],
      ['operator', `/api/uploads/${'a'.repeat(10_000)}`, 404, { same: missingUpload }],
      ['operator', `/api/uploads/ingest-${'9'.repeat(30)}/errors`, 404, { same: missingUpload }],
      ['stateA', '/api/matches/aaaaaaaaaaaaaaa%E2%80%AE', 404, { same: missingMatch }],
      ['stateA', `/api/matches/${'A'.repeat(10_000)}`, 404, { same: missingMatch }],
      ['operator', '/api/uploads?blob=uploads%2Fca%2F%00.csv', 400, BLOB_RULE],
      ['operator', `${errors}?after=1:%00`, 400, 'after must be a cursor returned as next'],
      ['operator', `${errors}?after=99999999999999999999:x`, 400, 'after must be a cursor returned as next'],
      ['operator', `${errors}?limit=99999999999999999999`, 400, 'limit must be an integer from 1 to 1000'],
      ['stateA', '/api/states/ca/matches?after=%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00', 400, 'after must be a cursor returned as next'],
      // Any two letters were a state: XX answered 200 with an empty list.
      ['operator', '/api/states/XX/uploads', 400, STATE_RULE],
      ['operator', '/api/states/%C3%A7a/uploads', 400, STATE_RULE],
      ['operator', '/api/audit?state=XX', 400, STATE_RULE],
      ['operator', '/api/audit?from=2026-01-01%00', 400, 'from must be an ISO 8601 date or time'],
      // A role for a code the program does not serve is no role.
      ['unknownState', '/api/states', 403, 'the token carries no bulkflow role (State.XX, Operator.Read or Operator.Admin)'],
    ];
    for (const [who, path, status, expected] of cases) {
      const answer = await expectNoFiveHundredAndProblems(await call(who, path), path);
      expect(answer.status, path).toBe(status);
      if (typeof expected === 'string') expect((JSON.parse(answer.body) as { detail: string }).detail, path).toBe(expected);
      else expect(answer.body, path).toBe(expected.same);
    }
  });

  // Segments the URL parser keeps as they are: an empty or dot segment would address another path, not this route.
  const rawEscapes = ['%00', 'x%00y', '%zz', '%E0%A4%A', '%C0%AF', '%FF', '%', '%2F', '%25', '%5C'];
  const specials = [
    '\u0000', 'x\u0000y', '1:\u0000', '99999999999999999999', '99999999999999999999:x', '-1', '0', '1e400', 'NaN', '2.5', 'a..b', '...',
    '../../etc/passwd', 'ｃａ', 'İ', 'ß', '😀', ' ', 'XX', 'xx', 'ca', 'CA', 'pr', 'open', 'closed', 'uploads/ca/hostile.csv', 'ca/hostile.csv', 'ca/\u0000.csv', 'xx/hostile.csv',
    'a'.repeat(10_000), '\u202e', 'null', 'true', '[]', '{}', 'x.csv', '.csv', 'hostile.csv', '2026-13-45', '2026-01-01T00:00:00Z',
  ];
  // Lone surrogates (fast-check's binary strings) as U+FFFD: encodeURIComponent throws on them.
  const encode = (text: string) => encodeURIComponent(text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
  const hostile = fc.oneof(
    fc.constantFrom(...specials).map(encode),
    fc.constantFrom(...rawEscapes),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map(encode),
    fc.string({ unit: 'binary', maxLength: 30 }).map(encode),
    fc.uint8Array({ minLength: 1, maxLength: 12 }).map((bytes) => [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')),
    fc.string({ minLength: 9_000, maxLength: 10_000 }).map(encode),
  );
  // Not a line break either: the local host's route patterns do not match one (ASP.NET's do), so no route would run.
  const segment = hostile.filter((text) => !['', '.', '..'].includes(decodeURIComponentSafe(text).trim()) && !/^(%2e|\.){1,2}$/i.test(text) && !/%0a|%0d/i.test(text));

  for (const [name, route] of Object.entries(httpRoutes) as Array<[string, AnyHttpRoute]>) {
    it(`${route.methods[0]} /api/${route.route}: no 5xx and only problem details, whatever the path and query`, async () => {
      const valid: Record<string, string[]> = {
        state: ['ca', 'TX', 'pr'],
        uploadId: [ca.uploadId, ca.instanceId],
        matchId: [matchId],
        filename: ['hostile.csv'],
        asset: ['index.html', 'config.json'],
      };
      const params = [...route.route.matchAll(/\{\*?(\w+)\??\}/g)].map((match) => match[1]!);
      const queryKeys = [...Object.keys(route.query), 'unknown'];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...WHO),
          fc.tuple(...params.map((param) => fc.oneof(segment, fc.constantFrom(...(valid[param] ?? ['x'])).map(encode)))),
          fc.tuple(...queryKeys.map(() => fc.option(fc.oneof(hostile, fc.constantFrom('1', '5', 'open', ca.uploadId, `1:`, '')), { nil: undefined }))),
          async (who, values, queryValues) => {
            let path = route.route;
            params.forEach((param, i) => { path = path.replace(new RegExp(`\\{\\*?${param}\\??\\}`), values[i]!); });
            const query = queryKeys.flatMap((key, i) => (queryValues[i] === undefined ? [] : [`${key}=${queryValues[i]}`])).join('&');
            const label = `${who} ${route.methods[0]} /api/${path.slice(0, 200)}${query ? `?${query.slice(0, 200)}` : ''}`;
            await expectNoFiveHundredAndProblems(await call(who, `/api/${path}${query ? `?${query}` : ''}`, route.methods[0]), label);
          },
        ),
        { numRuns: name === 'uploadFile' ? 40 : 60, endOnFailure: true },
      );
    }, 240_000);
  }
});

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
