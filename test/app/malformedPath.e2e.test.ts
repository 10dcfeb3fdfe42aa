import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/localStack.js';

/**
 * Paths with malformed percent-escapes reach the app's routes as Azure's web server (Kestrel) hands them over:
 * the escape as written. The local host decoded route values itself and answered 500 text/plain "URI malformed".
 */
describe('malformed percent-escapes in a path', () => {
  let t: TestStack;
  let wy = '';
  beforeAll(async () => {
    t = await startTestStack();
    wy = await t.token({ states: ['WY'] });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const cases: Array<[string, string, 'operator' | 'WY']> = [
    ['GET', '/api/uploads/%zz', 'operator'],
    ['GET', '/api/uploads/%E0%A4%A', 'operator'],
    ['GET', '/api/uploads/%E0%A4%A/errors', 'operator'],
    ['GET', '/api/dashboard/%zz', 'operator'],
    ['PUT', '/api/states/WY/uploads/%E0%A4%A.csv', 'WY'],
    ['PUT', '/api/states/WY/uploads/%zz.csv', 'WY'],
  ];
  it.each(cases)('%s %s: an answer from the app, never a 5xx; a refusal is a problem detail', async (method, path, who) => {
    const response = await t.api(path, { method, ...(who === 'WY' ? { token: wy } : {}), ...(method === 'PUT' ? { body: 'a,b\n1,2\n' } : {}) });
    expect(response.status, path).toBeLessThan(500);
    if (response.status >= 400) expect(response.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
  });

  it('an escaped NUL in the path is refused by the host (as Kestrel does) with a problem detail', async () => {
    const response = await t.api('/api/uploads/%00');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});
