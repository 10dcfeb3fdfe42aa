import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import type { AppClients } from '../../src/composition.js';
import { dashboard } from '../../src/functions/dashboard.js';

const serve = dashboard({ settings: (() => ({ dashboard: undefined })) as unknown as AppClients['settings'] });
const get = (asset: string) =>
  serve({ request: new HttpRequest({ method: 'GET', url: `http://localhost/api/dashboard/${asset}` }), params: { asset } });

describe('dashboard assets', () => {
  it('serves a listed file', async () => {
    const answer = await get('dashboard.css');
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatchObject({ 'content-type': 'text/css; charset=utf-8' });
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'missing.js'])('answers 404 for %s, not a property of Object', async (asset) => {
    const answer = await get(asset);
    expect(answer.status).toBe(404);
    expect(answer.headers).toMatchObject({ 'content-type': 'application/problem+json' });
  });
});
