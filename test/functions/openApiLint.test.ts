import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { httpRoutes, type AnyHttpRoute } from '../../src/functions/httpRoutes.js';
import { openApiDocument } from '../../src/functions/openApi.js';

const run = promisify(execFile);

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>;
}

it('the OpenAPI document lints clean with Redocly\'s recommended rules (redocly.yaml), offline', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'openapi-lint-'));
  try {
    const file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(openApiDocument(httpRoutes as Record<string, AnyHttpRoute>)));
    // Exits 1 on an error; warnings count as problems too.
    const { stdout } = await run(resolve('node_modules/.bin/redocly'), ['lint', file, '--config', resolve('redocly.yaml'), '--format', 'json'], {
      cwd: dir,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      maxBuffer: 16 << 20,
    }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    const report = JSON.parse(stdout) as LintReport;
    const problems = report.problems.map(({ ruleId, severity, message, location }) => `${severity} ${ruleId} at ${location[0]?.pointer}: ${message}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);
