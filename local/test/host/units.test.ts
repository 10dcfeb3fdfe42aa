import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubSchema } from '../../src/host/durable/store.js';
import { customStatusError } from '../../src/host/durable/history.js';
import { invalidInstanceId } from '../../src/host/durable/instances.js';
import { BadRequestPath, decodeRequestPath } from '../../src/host/requestPath.js';
import { compileRoute } from '../../src/host/routes.js';
import { applyLocalSettings, checkBindingConnections, parseTimeSpan, readHostSettings, resolveSettingExpressions } from '../../src/host/settings.js';

describe('route templates (ASP.NET style, as the Functions host routes)', () => {
  it('matches literals case-insensitively, honours optional, constrained and catch-all segments', () => {
    const route = compileRoute('uploads/{id}/rows/{row:int?}');
    expect(route.match('/UPLOADS/a b/rows')).toEqual({ id: 'a b' });
    expect(route.match('/uploads/x/rows/12')).toEqual({ id: 'x', row: '12' });
    expect(route.match('/uploads/x/rows/twelve')).toBeUndefined();
    expect(compileRoute('files/{*path}').match('/files/a/b/c.csv')).toEqual({ path: 'a/b/c.csv' });
    expect(compileRoute('').match('/')).toEqual({});
  });

  it('takes the path decoded as Kestrel decodes it: valid UTF-8 escapes decoded, malformed ones and %2F kept, NUL refused', () => {
    expect(decodeRequestPath('/uploads/a%20b/caf%C3%A9/%F0%9F%98%80')).toBe('/uploads/a b/café/😀');
    for (const kept of ['/uploads/%zz', '/uploads/%E0%A4%A', '/uploads/%E0%A4%A.csv', '/uploads/%', '/uploads/%4', '/uploads/a%2Fb', '/uploads/%C0%AF', '/uploads/%ED%A0%80', '/uploads/%FF']) {
      expect(decodeRequestPath(kept), kept).toBe(kept);
    }
    // A valid sequence after a broken one is still decoded.
    expect(decodeRequestPath('/x/%E0%A4%41%C3%A9')).toBe('/x/%E0%A4Aé');
    expect(() => decodeRequestPath('/uploads/x%00y')).toThrow(BadRequestPath);
    expect(compileRoute('uploads/{id}').match(decodeRequestPath('/uploads/%E0%A4%A'))).toEqual({ id: '%E0%A4%A' });
  });

  it('ranks literal routes above parameter routes', () => {
    expect(compileRoute('uploads/latest').precedence).toBeGreaterThan(compileRoute('uploads/{id}').precedence);
  });
});

describe('settings', () => {
  it('names a binding whose connection setting is not set, as for an unset %NAME% (not dropped at the first write)', () => {
    const bindings = {
      trigger: { type: 'httpTrigger', direction: 'in' },
      queueOut: { type: 'queue', direction: 'out', connection: 'QueueStorage' },
    };
    expect(() => checkBindingConnections(bindings, 'trigger', {})).toThrow('binding queueOut (queue) names connection "QueueStorage", an app setting which is not set');
    for (const env of [{ QueueStorage: 'UseDevelopmentStorage=true' }, { AzureWebJobsQueueStorage: 'x' }, { QueueStorage__queueServiceUri: 'https://a.queue.core.windows.net' }]) {
      expect(() => checkBindingConnections(bindings, 'trigger', env)).not.toThrow();
    }
    // The trigger's own connection is its dispatcher's to check.
    expect(() => checkBindingConnections({ trigger: { type: 'eventHubTrigger', connection: 'Hubs' } }, 'trigger', {})).not.toThrow();
  });

  it('resolves %NAME% from the environment and names a missing setting', () => {
    expect(resolveSettingExpressions({ hub: '%HUB%', list: ['x-%HUB%'] }, { HUB: 'h1' })).toEqual({ hub: 'h1', list: ['x-h1'] });
    expect(() => resolveSettingExpressions('%NOPE%', {})).toThrow('binding expression %NOPE% refers to app setting "NOPE", which is not set');
  });

  it('parses .NET TimeSpan text for functionTimeout', () => {
    expect(parseTimeSpan('00:05:00')).toBe(300_000);
    expect(parseTimeSpan('1.02:00:30')).toBe((26 * 3600 + 30) * 1000);
    expect(() => parseTimeSpan('5 minutes')).toThrow('is not a TimeSpan');
  });

  it('reads host.json and local.settings.json like Core Tools (existing variables win)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'host-settings-'));
    try {
      await writeFile(join(dir, 'host.json'), JSON.stringify({
        functionTimeout: '00:00:30',
        logging: { logLevel: { default: 'Warning', Function: 'Error' } },
        extensions: { durableTask: { hubName: '%HUB%', maxConcurrentActivityFunctions: 7, maxConcurrentOrchestratorFunctions: 3 }, http: { routePrefix: '' } },
      }));
      await writeFile(join(dir, 'local.settings.json'), JSON.stringify({ Values: { HUB: 'FromFile', KEEP: 'file' } }));
      const env: NodeJS.ProcessEnv = { KEEP: 'process' };
      expect(applyLocalSettings(dir, env)).toEqual(['HUB']);
      expect(env.KEEP).toBe('process');
      expect(readHostSettings(dir, env)).toEqual({
        hubName: 'FromFile', maxConcurrentActivityFunctions: 7, maxConcurrentOrchestratorFunctions: 3,
        functionTimeoutMs: 30_000, routePrefix: '', logLevel: 'error',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('durable rules', () => {
  it('sanitises the task hub name into a schema name', () => {
    expect(hubSchema('My-Hub.v2')).toBe('durable_my_hub_v2');
  });

  it('validates instance ids like the extension', () => {
    expect(invalidInstanceId('ok-1')).toBeUndefined();
    expect(invalidInstanceId('@entity')).toContain('must not start with @');
    expect(invalidInstanceId('a/b')).toContain('invalid characters');
    expect(invalidInstanceId('x'.repeat(257))).toContain('256');
  });

  it('applies the 16 KB UTF-16 custom status limit (Encoding.Unicode byte count / 1024 > 16)', () => {
    expect(customStatusError(JSON.stringify('x'.repeat(8190)))).toBeUndefined();
    expect(customStatusError(JSON.stringify('x'.repeat(8800)))).toContain('must not exceed 16 KB');
  });
});
