import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/freePort.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { spawnHost, waitForOutput } from '../../src/hostProcess.js';
import { fixtureApp, json, waitForStatus } from './support.js';

const brokenApp = fileURLToPath(new URL('../fixtures/broken-app', import.meta.url));

let db: TestDatabase;
let scratch: string;

beforeAll(async () => {
  db = await createTestDatabase('host_process');
  scratch = await mkdtemp(join(tmpdir(), 'host-process-'));
});

afterAll(async () => {
  await db?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('bulkflow host (CLI process)', () => {
  it('an app that fails to load: prints which file and why, exits non-zero', async () => {
    const host = spawnHost(['--app', brokenApp, '--port', '0'], { DATABASE_URL: db.url });
    expect(await host.exited).toBe(1);
    expect(host.output()).toContain(`could not load the Functions app from ${join(brokenApp, 'index.js')}: missing setting STORAGE_CONNECTION`);
  });

  it('prints the function list and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const host = spawnHost(['--app', fixtureApp, '--port', String(port)], { DATABASE_URL: db.url });
    await waitForOutput(host, 'Host listening on');
    expect(host.output()).toContain(`Hello: [GET] http://localhost:${port}/api/hello/{name}/{times:int?}`);
    expect(host.output()).toContain(`OnUpload: eventGridTrigger http://localhost:${port}/runtime/webhooks/EventGrid?functionName=OnUpload`);
    expect(host.output()).toContain('Chain: orchestrationTrigger');
    host.child.kill('SIGTERM');
    expect(await host.exited).toBe(0);
  });

  it.each([
    { shape: 'flat', name: 'FanOutSlow', instanceId: 'killed-flat' },
    { shape: 'in sub-orchestrations of 100', name: 'FanOutSlowSplit', instanceId: 'killed-split' },
  ])('SIGKILL mid fan-out ($shape), restart: completes once with exact results; lost activities re-run, completed ones do not', async ({ name, instanceId }) => {
    const count = 400;
    const log = join(scratch, `${instanceId}.log`);
    const port = await freePort();
    const args = ['--app', fixtureApp, '--port', String(port), '--activity-lease-ms', '1500'];
    const env = { DATABASE_URL: db.url, EXECUTION_LOG: log };
    const first = spawnHost(args, env);
    await waitForOutput(first, 'Host listening on');
    const started = await fetch(`http://localhost:${port}/api/orchestrators/${name}/${instanceId}`, { method: 'POST', body: JSON.stringify({ count, size: 100 }) });
    expect(started.status).toBe(202);
    const statusUrl = ((await json(started)) as { statusQueryGetUri: string }).statusQueryGetUri;
    const executedBeforeKill = await waitForLines(log, count / 4);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(executedBeforeKill).toBeLessThan(count);

    const second = spawnHost(args, env);
    await waitForOutput(second, 'Host listening on');
    const status = await waitForStatus(statusUrl, 60_000);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: { count, sum: count * (count - 1) } });

    const executions = (await readFile(log, 'utf8')).trim().split('\n').map(Number);
    const distinct = new Set(executions);
    expect(distinct.size).toBe(count); // every activity ran
    // Only work in flight at the kill runs twice: at most the concurrency limit plus one unflushed completion batch.
    expect(executions.length - count).toBeLessThanOrEqual(50 + 200);
    expect(executions.length).toBeGreaterThanOrEqual(count);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ completions: string }>(
        `SELECT count(*) AS completions FROM durable_fixturehub.history WHERE instance_id = $1 AND (event::jsonb ->> 'EventType')::int = 1`,
        [instanceId],
      );
      expect(Number(rows[0]?.completions)).toBe(1); // completed exactly once
    } finally {
      await client.end();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

async function waitForLines(path: string, lines: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const text = await readFile(path, 'utf8').catch(() => '');
    const n = text.split('\n').filter(Boolean).length;
    if (n >= lines) return n;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fewer than ${lines} executions logged`);
}
