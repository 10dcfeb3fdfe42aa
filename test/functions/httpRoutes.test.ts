import { describe, expect, it } from 'vitest';
import { loadApp } from '../../local/src/host/registry.js';
import { createAccessGuard } from '../../src/functions/accessGuard.js';
import { httpRoutes, type AnyHttpRoute, type HttpFunctionName } from '../../src/functions/httpRoutes.js';

describe('the route table', () => {
  it('registers every row as its HTTP function, with its route, methods and durable client, and no function key', async () => {
    // The app's registrations as the Functions host captures them (the compiled app: npm test builds first).
    const registry = await loadApp(process.cwd());
    const http = registry.functions.filter((fn) => fn.trigger.type === 'httpTrigger');
    expect(http.length).toBeGreaterThan(0);
    for (const fn of http) {
      const entry: AnyHttpRoute = httpRoutes[fn.name as HttpFunctionName];
      expect(entry, `${fn.name} is registered without a row in src/functions/httpRoutes.ts`).toBeDefined();
      expect(fn.trigger.route, fn.name).toBe(entry.route);
      expect(fn.trigger.methods, fn.name).toEqual(entry.methods);
      expect(fn.trigger.authLevel, fn.name).toBe('anonymous');
      const client = Object.values(fn.metadata.bindings).some((binding) => binding.type === 'durableClient');
      expect(client, `${fn.name} durable client`).toBe(entry.durableClient);
    }
    expect(http.map((fn) => fn.name).sort()).toEqual(Object.keys(httpRoutes).sort());
  });

  it('opens only the dashboard and the contracts (OpenAPI, AsyncAPI and the event data schemas), and refuses a row whose policy concerns a state or an id it does not decode', () => {
    const open = Object.entries(httpRoutes).filter(([, route]) => route.policy.kind === 'public').map(([name]) => name);
    expect(open).toEqual(['dashboard', 'openApi', 'eventSchema', 'asyncApi']);
    const guard = createAccessGuard({
      authenticate: async () => ({ ok: false, error: 'missing', reason: '' }),
      rateLimit: async () => ({ allowed: true }),
      uploadState: async () => undefined,
      matchStates: async () => undefined,
      writeAudit: async () => {},
    });
    const handler = async () => ({ status: 200 });
    const { stateUploads, uploadErrors, matchRecord } = httpRoutes as Record<string, AnyHttpRoute>;
    expect(() => guard.handle('x', { ...stateUploads!, params: {} }, handler)).toThrow('route x: a stateRead route decodes a state parameter');
    expect(() => guard.handle('x', { ...uploadErrors!, params: {} }, handler)).toThrow('a uploadRead route decodes a uploadId parameter');
    expect(() => guard.handle('x', { ...matchRecord!, params: {} }, handler)).toThrow('a matchRead route decodes a matchId parameter');
    for (const [name, route] of Object.entries(httpRoutes)) expect(() => guard.handle(name, route as AnyHttpRoute, handler)).not.toThrow();
  });
});
