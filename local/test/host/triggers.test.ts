import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/host/host.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { fixtureApp, json, rawRequest } from './support.js';

let db: TestDatabase;
let host: RunningHost;

beforeAll(async () => {
  db = await createTestDatabase('host_triggers');
  host = await startHost({ appDir: fixtureApp, port: 0, databaseUrl: db.url });
});

afterAll(async () => {
  await host?.stop();
  await db?.drop();
});

describe('registration capture', () => {
  it('captures every function the unmodified app registers, with URLs for HTTP and Event Grid', () => {
    const byName = Object.fromEntries(host.functions.map((f) => [f.name, f]));
    expect(byName.Hello).toEqual({ name: 'Hello', trigger: 'httpTrigger', methods: ['GET'], url: `${host.url}/api/hello/{name}/{times:int?}` });
    expect(byName.OnUpload?.url).toBe(`${host.url}/runtime/webhooks/EventGrid?functionName=OnUpload`);
    expect(byName.Chain?.trigger).toBe('orchestrationTrigger');
    expect(byName.SayHello?.trigger).toBe('activityTrigger');
    expect(byName.Counter?.trigger).toBe('entityTrigger');
  });

  it('resolves %SETTING% in host.json from local.settings.json values (hub name)', () => {
    expect(host.hubName).toBe('FixtureHub');
  });
});

describe('HTTP triggers', () => {
  it('matches route templates with parameters, optional constrained segments and query', async () => {
    const response = await fetch(`${host.url}/api/hello/ana/3?q=x`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ greeting: 'hello', name: 'ana', times: '3', q: 'x' });
    expect(await json(await fetch(`${host.url}/api/hello/bo`))).toEqual({ greeting: 'hello', name: 'bo', times: null, q: null });
    // {times:int?} does not accept letters
    expect((await fetch(`${host.url}/api/hello/bo/abc`)).status).toBe(404);
  });

  it('passes method, headers and body; returns the status code and headers the function sets', async () => {
    const response = await fetch(`${host.url}/api/echo`, { method: 'PUT', headers: { 'x-custom': 'yes' }, body: 'payload' });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-method')).toBe('PUT');
    expect(response.headers.get('x-custom')).toBe('yes');
    expect(await response.text()).toBe('payload');
  });

  it('answers 405 for a method the function does not accept, 404 for no route, 500 when it throws', async () => {
    expect((await fetch(`${host.url}/api/echo`)).status).toBe(405);
    expect((await fetch(`${host.url}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/boom`)).status).toBe(500);
  });
});

describe('the web server in front of the functions', () => {
  const port = () => new URL(host.url).port;

  it('passes malformed percent-escapes to the function as written (Kestrel does), never a 500; refuses an escaped NUL with 400', async () => {
    for (const name of ['%zz', '%E0%A4%A', '%E0%A4%A.csv', 'a%2Fb']) {
      const response = await rawRequest(host.url, 'GET', `/api/hello/${name}`);
      expect(response.status, name).toBe(200);
      expect(JSON.parse(response.body), name).toMatchObject({ name });
    }
    expect(JSON.parse((await rawRequest(host.url, 'GET', '/api/hello/caf%C3%A9')).body)).toMatchObject({ name: 'café' });
    // The durable management API decoded its path segments again and answered 500 "URI malformed".
    expect((await rawRequest(host.url, 'GET', '/runtime/webhooks/durabletask/instances/%E0%A4%A')).status).toBe(404);
    expect((await rawRequest(host.url, 'GET', '/runtime/webhooks/durabletask/instances/%zz')).status).toBe(404);
    const nul = await rawRequest(host.url, 'GET', '/api/hello/x%00y');
    expect(nul.status).toBe(400);
    expect(nul.contentType).toBe('application/problem+json');
    expect(JSON.parse(nul.body)).toMatchObject({ status: 400, detail: 'The path contains null characters.' });
  });

  it('serves loopback Host names only (DNS rebinding), on every route and the management API', async () => {
    for (const name of ['localhost', '127.0.0.1', '[::1]', 'LOCALHOST']) {
      expect((await rawRequest(host.url, 'GET', '/api/hello/ana', { host: `${name}:${port()}` })).status, name).toBe(200);
    }
    expect((await rawRequest(host.url, 'GET', '/api/hello/ana', { host: 'localhost' })).status).toBe(200);
    for (const name of ['attacker.example', 'attacker.example:80', `attacker.example:${port()}`, 'localhost.attacker.example', '127.0.0.2', '0.0.0.0', '[::2]', 'localhost:x']) {
      for (const path of ['/api/hello/ana', '/runtime/webhooks/durabletask/instances', '/runtime/webhooks/EventGrid?functionName=OnUpload']) {
        const response = await rawRequest(host.url, 'GET', path, { host: name });
        expect(response.status, `${name} ${path}`).toBe(400);
        expect(response.contentType).toBe('application/problem+json');
      }
    }
  });

  it('refuses a cross-site browser request that changes anything; same-origin pages and non-browser tools pass', async () => {
    const own = new URL(host.url).origin;
    const post = (path: string, headers: Record<string, string>) => rawRequest(host.url, 'POST', path, headers, 'x');
    const crossSite: Array<Record<string, string>> = [{ origin: 'http://attacker.example' }, { origin: 'null' }, { origin: `http://localhost:${Number(port()) + 1}` }, { origin: `https://127.0.0.1:${port()}` }, { 'sec-fetch-site': 'cross-site' }];
    for (const headers of crossSite) {
      for (const path of ['/api/echo', '/runtime/webhooks/durabletask/instances/any/terminate?reason=x', '/runtime/webhooks/EventGrid?functionName=OnUpload']) {
        const response = await post(path, headers);
        expect(response.status, `${JSON.stringify(headers)} ${path}`).toBe(403);
        expect(response.contentType).toBe('application/problem+json');
      }
    }
    expect((await rawRequest(host.url, 'DELETE', '/runtime/webhooks/durabletask/instances/any', { origin: 'http://attacker.example' })).status).toBe(403);
    expect((await post('/api/echo', { origin: own, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await post('/api/echo', {})).status).toBe(201);
    // Reading is not changing: a cross-site GET gets its answer (the browser keeps it from the page without CORS).
    expect((await rawRequest(host.url, 'GET', '/api/hello/ana', { origin: 'http://attacker.example', 'sec-fetch-site': 'cross-site' })).status).toBe(200);
  });
});

describe('Event Grid webhook', () => {
  const webhook = () => `${host.url}/runtime/webhooks/EventGrid?functionName=OnUpload`;
  const eventGridEvent = (id: string, data: unknown = {}) => ({
    id, topic: '/subscriptions/x', subject: `/blobServices/default/containers/uploads/blobs/${id}.csv`,
    eventType: 'Microsoft.Storage.BlobCreated', eventTime: new Date().toISOString(), data, dataVersion: '1', metadataVersion: '1',
  });

  it('invokes once per event for Event Grid schema and CloudEvents 1.0 arrays', async () => {
    const response = await fetch(webhook(), { method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body: JSON.stringify([eventGridEvent('e1'), eventGridEvent('e2')]) });
    expect(response.status).toBe(202);
    const cloud = { specversion: '1.0', id: 'c1', source: '/storage', type: 'Microsoft.Storage.BlobCreated', subject: 'blobs/c1.csv', time: new Date().toISOString(), data: {} };
    expect((await fetch(webhook(), { method: 'POST', body: JSON.stringify([cloud]) })).status).toBe(202);
    const seen = (await json(await fetch(`${host.url}/api/seen-events`))) as Array<{ id: string; type: string }>;
    expect(seen.map((e) => e.id)).toEqual(['e1', 'e2', 'c1']);
    expect(seen.every((e) => e.type === 'Microsoft.Storage.BlobCreated')).toBe(true);
  });

  it('answers the subscription validation handshake (Event Grid schema and CloudEvents OPTIONS)', async () => {
    const validation = { ...eventGridEvent('v1', { validationCode: 'code-123' }), eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent' };
    const response = await fetch(webhook(), { method: 'POST', headers: { 'aeg-event-type': 'SubscriptionValidation' }, body: JSON.stringify([validation]) });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ validationResponse: 'code-123' });
    const options = await fetch(webhook(), { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } });
    expect(options.status).toBe(200);
    expect(options.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('answers 500 when the handler throws (so Event Grid retries) and 400 on malformed bodies', async () => {
    expect((await fetch(webhook(), { method: 'POST', body: JSON.stringify([eventGridEvent('bad', { fail: true })]) })).status).toBe(500);
    const notJson = await fetch(webhook(), { method: 'POST', body: '{oops' });
    expect(notJson.status).toBe(400);
    const missing = await fetch(webhook(), { method: 'POST', body: JSON.stringify([{ id: 'x' }]) });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('event 0 (Event Grid schema) lacks subject, eventType, eventTime, dataVersion');
    expect((await fetch(webhook(), { method: 'POST', body: JSON.stringify({ not: 'an array' }) })).status).toBe(400);
    expect((await fetch(`${host.url}/runtime/webhooks/EventGrid?functionName=Nope`, { method: 'POST', body: '[]' })).status).toBe(404);
  });
});
