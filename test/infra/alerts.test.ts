import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionNames } from '../../src/functionNames.js';
import { OPS_LOG } from '../../src/engine/opsSignals.js';
import { bicepDir, root } from './bicepText.js';

/** Every source file of the app, as text: a log line an alert matches must be written somewhere in it. */
function sourceText(directory: string): string {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => readFileSync(join(entry.parentPath, entry.name), 'utf8'))
    .join('\n');
}

const alertsBicep = readFileSync(join(bicepDir, 'modules', 'alerts.bicep'), 'utf8');
/** The log alerts' KQL, as written in the module's list. */
const queries = [...alertsBicep.matchAll(/^\s*query: '(.*)'$/gm)].map((m) => m[1]!.replaceAll("\\'", "'"));
/** Tables the platform writes (not the app): the cap alert reads the workspace's own operations log. */
const PLATFORM_TABLES = new Set(['_LogOperation']);
/** Tables Application Insights fills from the app: its log lines (AppTraces) and function invocations (AppRequests). */
const APP_TABLES = new Set(['AppTraces', 'AppRequests']);

describe('the log alerts', () => {
  const src = sourceText(join(root, 'src'));

  it('are the ones the issue lists, each with a query', () => {
    expect(queries.length).toBe(8);
    for (const name of ['upload-failed', 'upload-stalled', 'orchestration-failed', 'outbox-behind', 'match-analysis-behind', 'function-failures', 'log-cap-reached']) {
      expect(alertsBicep, name).toContain(`name: '${name}'`);
    }
  });

  it('query only tables the app fills or the platform keeps', () => {
    for (const query of queries) {
      const table = query.split('|')[0]!.trim();
      expect(APP_TABLES.has(table) || PLATFORM_TABLES.has(table), query).toBe(true);
    }
  });

  it('match log lines the app writes: a renamed line fails here instead of blinding its alert', () => {
    const prefixes = queries.flatMap((query) => [...query.matchAll(/Message startswith "([^"]+)"/g)].map((m) => m[1]!));
    expect(prefixes.length).toBeGreaterThanOrEqual(5);
    for (const prefix of prefixes) {
      // The operations probe's lines come from OPS_LOG; any other line is a literal in the source.
      const known = (Object.values(OPS_LOG) as string[]).includes(prefix) || src.includes(`\`${prefix} `);
      expect(known, `no log line in src/ starts with "${prefix}"`).toBe(true);
    }
    for (const value of Object.values(OPS_LOG)) expect(src, value).toMatch(new RegExp(`OPS_LOG\\.${Object.entries(OPS_LOG).find(([, v]) => v === value)![0]}\\b`));
  });

  it('name functions the app registers', () => {
    const names = queries.flatMap((query) => [...query.matchAll(/Name in \(([^)]*)\)/g)].flatMap((m) => [...m[1]!.matchAll(/"([^"]+)"/g)].map((n) => n[1]!)));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(Object.values(functionNames) as string[], name).toContain(name);
  });
});
