import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/src/freePort.js';
import { spawnHost, stopHost, waitForOutput, type HostProcess } from '../../local/src/hostProcess.js';
import { startTestStack, type TestStack } from '../support/localStack.js';
import { checkedFetch } from '../support/contract.js';

/** The per-caller limit holds across scaled-out instances: two hosts in two processes (this one and a child), one database. */
describe('API rate limit per caller', () => {
  let t: TestStack;
  let second: HostProcess;
  let secondUrl: string;

  beforeAll(async () => {
    t = await startTestStack({ API_RATE_LIMIT_PER_MINUTE: '60' });
    const port = await freePort();
    // The host's durable store is migrated with the administrator login, as the stack's own host does.
    second = spawnHost(['--port', String(port)], { ...t.stack.settings, DURABLE_STORE_URL: t.stack.adminDatabaseUrl });
    await waitForOutput(second, 'Host listening', 60_000);
    secondUrl = `http://127.0.0.1:${port}`;
  }, 180_000);
  afterAll(async () => {
    if (second) await stopHost(second);
    await t?.stop();
  });

  it('lets 60 requests a minute through, split over two hosts, and answers the 61st with 429 and Retry-After', async () => {
    const token = await t.token({ states: ['CA'], clientId: 'ca-limited', callerId: 'ca-limited' });
    const get = (url: string) => checkedFetch(`${url}/api/states`, { headers: { authorization: `Bearer ${token}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await get(i % 2 ? secondUrl : t.url)).status);
    expect(statuses).toEqual(Array(60).fill(200));
    for (const url of [t.url, secondUrl]) {
      const refused = await get(url);
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await refused.json()).toMatchObject({ status: 429, title: 'Too many requests' });
    }
    // Another caller has its own budget.
    const other = await t.token({ states: ['TX'], clientId: 'tx-system', callerId: 'tx-system' });
    expect((await checkedFetch(`${secondUrl}/api/states`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(200);
  });

  it('counts a real-time match query of 50 persons as one request', async () => {
    const token = await t.token({ states: ['NV'], clientId: 'nv-caseworkers', callerId: 'nv-caseworkers' });
    const persons = Array.from({ length: 50 }, (_, i) => ({ lds_hash: createHash('sha512').update(`applicant ${i}`).digest('hex') }));
    const query = (url: string) => checkedFetch(`${url}/api/states/NV/match-queries`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ data: persons }),
    });
    const get = (url: string) => checkedFetch(`${url}/api/states`, { headers: { authorization: `Bearer ${token}` } });
    // Every third of the 60 requests asks about 50 persons (20 queries, 1,000 persons): all inside the budget of 60.
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await (i % 3 === 0 ? query : get)(i % 2 ? secondUrl : t.url)).status);
    expect(statuses).toEqual(Array(60).fill(200));
    expect((await query(t.url)).status).toBe(429);
  });
});
