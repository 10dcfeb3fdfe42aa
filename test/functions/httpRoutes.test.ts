import { describe, expect, it } from 'vitest';
import { loadApp } from '../../local/src/host/registry.js';
import { createAccessGuard } from '../../src/functions/accessGuard.js';
import { httpRoutes, type HttpFunctionName } from '../../src/functions/httpRoutes.js';

describe('the route → policy table', () => {
  it('has a policy for every HTTP function the app registers, with its route and methods, and no function key', async () => {
    // The app's registrations as the Functions host captures them (the compiled app: npm test builds first).
    const registry = await loadApp(process.cwd());
    const http = registry.functions.filter((fn) => fn.trigger.type === 'httpTrigger');
    expect(http.length).toBeGreaterThan(0);
    for (const fn of http) {
      const entry = httpRoutes[fn.name as HttpFunctionName];
      expect(entry, `${fn.name} is registered without a policy in src/functions/httpRoutes.ts`).toBeDefined();
      expect(fn.trigger.route, fn.name).toBe(entry.route);
      expect(fn.trigger.methods, fn.name).toEqual(entry.methods);
      expect(fn.trigger.authLevel, fn.name).toBe('anonymous');
    }
    expect(http.map((fn) => fn.name).sort()).toEqual(Object.keys(httpRoutes).sort());
  });

  it('refuses to register a handler under the wrong kind of policy', () => {
    const guard = createAccessGuard({
      authenticate: async () => ({ ok: false, error: 'missing', reason: '' }),
      rateLimit: async () => ({ allowed: true }),
      uploadState: async () => undefined,
      matchStates: async () => undefined,
      writeAudit: async () => {},
    });
    const handler = async () => ({ status: 200 });
    expect(() => guard.protect('dashboard', handler)).toThrow(/public in httpRoutes/);
    expect(() => guard.open('uploadStatus', handler)).toThrow(/not public in httpRoutes/);
    const open = Object.entries(httpRoutes).filter(([, route]) => route.policy.kind === 'public').map(([name]) => name);
    expect(open).toEqual(['dashboard']);
  });
});
