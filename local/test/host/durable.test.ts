import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/host/host.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { fixtureApp, json, waitForStatus } from './support.js';

let db: TestDatabase;
let host: RunningHost;
const logLines: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('host');
  host = await startHost({ appDir: fixtureApp, port: 0, databaseUrl: db.url, activityLeaseMs: 5000, log: (line) => logLines.push(line) });
});

afterAll(async () => {
  await host?.stop();
  await db?.drop();
});

async function start(name: string, input?: unknown, id?: string) {
  const response = await fetch(`${host.url}/api/orchestrators/${name}${id ? `/${id}` : ''}`, {
    method: 'POST',
    body: input === undefined ? '' : JSON.stringify(input),
  });
  const body = (await json(response)) as Record<string, string>;
  return { response, body };
}

async function run(name: string, input?: unknown, id?: string) {
  const { response, body } = await start(name, input, id);
  expect(response.status).toBe(202);
  return waitForStatus(body.statusQueryGetUri as string);
}

describe('durable orchestrations on the real SDK replay', () => {
  it('chains activities; createCheckStatusResponse URLs point at this host', async () => {
    const { response, body } = await start('Chain', undefined, 'chain-1');
    expect(response.status).toBe(202);
    expect(body.id).toBe('chain-1');
    expect(body.statusQueryGetUri).toMatch(new RegExp(`^${host.url}/runtime/webhooks/durabletask/instances/chain-1\\?`));
    expect(response.headers.get('location')).toBe(body.statusQueryGetUri);
    const status = await waitForStatus(body.statusQueryGetUri as string);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: ['Hello Tokyo', 'Hello Seattle', 'Hello London'], name: 'Chain', instanceId: 'chain-1' });
  });

  it('fans out 1,000 activities and fans in exact results', async () => {
    const status = await run('FanOut', { count: 1000 });
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ count: 1000, sum: 999 * 1000 });
    expect(status.customStatus).toEqual({ done: 1000 });
  });

  it('runs sub-orchestrations and returns their outputs to the parent', async () => {
    const status = await run('Parent', { parts: 4, size: 25 });
    expect(status.output).toEqual({ parts: 4, sum: 99 * 100 });
  });

  it('human interaction: an external event beats the timer; without it the timer wins', async () => {
    const { body } = await start('Approval', { timeoutSeconds: 30 }, 'approve-1');
    await new Promise((r) => setTimeout(r, 300));
    const raised = await fetch(`${host.url}/api/client/raise/approve-1`, { method: 'POST', body: JSON.stringify({ by: 'ana' }) });
    expect(raised.status).toBe(202);
    expect((await waitForStatus(body.statusQueryGetUri as string)).output).toEqual({ approved: { by: 'ana' } });
    const timedOut = await run('Approval', { timeoutSeconds: 1 });
    expect(timedOut.output).toEqual({ approved: false, timedOut: true });
  });

  it('monitor: timers in a loop with continueAsNew', async () => {
    const status = await run('Monitor', { round: 0, rounds: 3, checks: [] });
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: { rounds: 3, checks: [0, 2, 4] } });
  });

  it('retries an activity that fails twice (extension timer protocol), then surfaces a final failure', async () => {
    const status = await run('Retry', undefined, 'retry-1');
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({
      ok: { key: 'retry-1', attempts: 3 },
      next: 42,
      failure: "Activity function 'AlwaysFails' failed: always fails ",
    });
  });

  it('retry history follows the extension (DTFx RetryInterceptor): a timer after every failed attempt, ids from one counter', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ event: { EventType: number; EventId: number; TaskScheduledId?: number; TimerId?: number } }>(
        `SELECT event::jsonb AS event FROM durable_fixturehub.history WHERE instance_id = 'retry-1' ORDER BY seq`,
      );
      const names: Record<number, string> = { 4: 'Sched', 5: 'Done', 6: 'Fail', 10: 'TimerCreated', 11: 'TimerFired' };
      const walk = rows
        .map(({ event: e }) => (names[e.EventType] ? `${names[e.EventType]}(${e.EventId >= 0 ? e.EventId : (e.TaskScheduledId ?? e.TimerId)})` : undefined))
        .filter(Boolean);
      // FlakyTwice: 0..4 as recorded from the extension in durable-host-contract.md §5.3; then Double gets 5;
      // AlwaysFails (2 attempts): 6, timer 7, 8, timer 9, after which the failure surfaces.
      expect(walk).toEqual([
        'Sched(0)', 'Fail(0)', 'TimerCreated(1)', 'TimerFired(1)', 'Sched(2)', 'Fail(2)', 'TimerCreated(3)', 'TimerFired(3)', 'Sched(4)', 'Done(4)',
        'Sched(5)', 'Done(5)',
        'Sched(6)', 'Fail(6)', 'TimerCreated(7)', 'TimerFired(7)', 'Sched(8)', 'Fail(8)', 'TimerCreated(9)', 'TimerFired(9)',
      ]);
    } finally {
      await client.end();
    }
  });

  it('retries a failing sub-orchestration (callSubOrchestratorWithRetry) with a fresh child per attempt', async () => {
    const status = await run('RetrySub', undefined, 'rs-1');
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: { key: 'sub-rs-1', attempts: 3 } });
    const children = (await json(await fetch(`${host.url}/runtime/webhooks/durabletask/instances?instanceIdPrefix=rs-1:`))) as Array<{ runtimeStatus: string }>;
    expect(children.map((c) => c.runtimeStatus).sort()).toEqual(['Completed', 'Failed', 'Failed']);
  });

  it('entities signal other entities; DELETE through the API deletes the entity', async () => {
    const api = `${host.url}/runtime/webhooks/durabletask/entities/Counter`;
    const post = (path: string, body: unknown) => fetch(`${api}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('from?op=forward', { to: 'to', amount: 7 })).status).toBe(202);
    let state: Response | undefined;
    for (let i = 0; i < 100 && state?.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = await fetch(`${api}/to`);
    }
    expect(await json(state as Response)).toBe(7);
    expect((await fetch(`${api}/to`, { method: 'DELETE' })).status).toBe(202);
    let gone = 200;
    for (let i = 0; i < 100 && gone !== 404; i++) {
      await new Promise((r) => setTimeout(r, 50));
      gone = (await fetch(`${api}/to`)).status;
    }
    expect(gone).toBe(404);
  });

  it('counter entity: signals, calls and a critical section; readable through the client', async () => {
    const status = await run('CounterWorkflow', { key: 'c1' });
    expect(status.output).toEqual({ afterSignals: 3, final: 30, locked: true, lockedAfterRelease: false });
    expect((await run('LockAndEnd', { key: 'c1' })).output).toBe(30);
    const state = await fetch(`${host.url}/runtime/webhooks/durabletask/entities/Counter/c1`);
    expect(state.status).toBe(200);
    expect(await json(state)).toBe(30);
    expect((await fetch(`${host.url}/api/client/signal/c1`, { method: 'POST' })).status).toBe(202);
    let read: { entityExists: boolean; entityState: number } | undefined;
    for (let i = 0; i < 100; i++) {
      read = (await json(await fetch(`${host.url}/api/client/read/c1`))) as typeof read;
      if (read?.entityState === 35) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(read).toEqual({ entityExists: true, entityState: 35 });
    expect((await fetch(`${host.url}/runtime/webhooks/durabletask/entities/Counter/missing`)).status).toBe(404);
    const entities = (await json(await fetch(`${host.url}/runtime/webhooks/durabletask/entities?fetchState=true`))) as Array<{ entityId: unknown; state: unknown }>;
    expect(entities).toContainEqual(expect.objectContaining({ entityId: { name: 'counter', key: 'c1' }, state: 35 }));
  });

  it('an orchestrator that throws fails with the extension\'s message', async () => {
    const status = await run('Throws', undefined, 'throws-logged');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain("Orchestrator function 'Throws' failed: orchestrator bug");
    // Logged with its reason, as Core Tools does (it was only status=Failed).
    expect(logLines.filter((line) => line.includes('instanceId=throws-logged') && line.includes('orchestration failed'))).toEqual([
      expect.stringMatching(/ error +orchestration failed orchestration=Throws instanceId=throws-logged events=\d+ reason="orchestrator bug/),
    ]);
  });

  it('a failing sub-orchestration surfaces to the parent as an exception', async () => {
    const status = await run('ParentOfThrows', undefined, 'pot-1');
    expect(status.output).toEqual({ caught: "Orchestrator function 'Throws' failed: orchestrator bug " });
    const child = (await json(await fetch(`${host.url}/runtime/webhooks/durabletask/instances/pot-1-child`))) as Record<string, unknown>;
    expect(child.runtimeStatus).toBe('Failed');
  });

  it('more than 100,000 actions fails with the extension\'s MaxOrchestrationActions message, scheduling nothing', async () => {
    const status = await run('TooManyActions', undefined, 'too-many');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('Maximum amount of orchestration actions (100000) has been reached');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM durable_fixturehub.activity_queue WHERE instance_id = 'too-many'`);
      expect(rows[0]).toEqual({ n: 0 });
    } finally {
      await client.end();
    }
  });

  it('custom status over 16 KB of UTF-16 fails the orchestration with the extension\'s error', async () => {
    const status = await run('BigStatus');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('The UTF-16 size of the JSON-serialized payload must not exceed 16 KB');
  });

  it('an unknown activity fails the orchestration like the extension', async () => {
    const status = await run('UnknownActivity');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain("The function 'NoSuchActivity' doesn't exist");
  });

  it('terminate, suspend/resume and purge through the durable client and the API', async () => {
    const { body } = await start('WaitForever', undefined, 'wait-1');
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`${host.url}/api/client/suspend/wait-1`, { method: 'POST' })).status).toBe(202);
    const suspended = (await json(await fetch(body.statusQueryGetUri as string))) as Record<string, unknown>;
    expect(suspended.runtimeStatus).toBe('Suspended');
    await fetch(`${host.url}/api/client/raise/wait-1`, { method: 'POST', body: '4' });
    await new Promise((r) => setTimeout(r, 300));
    expect(((await json(await fetch(body.statusQueryGetUri as string))) as Record<string, unknown>).runtimeStatus).toBe('Suspended');
    await fetch(`${host.url}/api/client/resume/wait-1`, { method: 'POST' });
    expect((await waitForStatus(body.statusQueryGetUri as string)).output).toBe(8);

    const second = await start('WaitForever', undefined, 'wait-2');
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`${host.url}/api/client/terminate/wait-2`, { method: 'POST' })).status).toBe(202);
    const terminated = await waitForStatus(second.body.statusQueryGetUri as string);
    expect(terminated).toMatchObject({ runtimeStatus: 'Terminated', output: 'stopped by test' });
    // A second terminate: the extension answers 410, which the client treats as success.
    expect((await fetch(`${host.url}/runtime/webhooks/durabletask/instances/wait-2/terminate?reason=x`, { method: 'POST' })).status).toBe(410);
    expect((await fetch(`${host.url}/runtime/webhooks/durabletask/instances/wait-2/raiseEvent/Approval`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '1' })).status).toBe(410);
    expect(await json(await fetch(`${host.url}/api/client/purge/wait-2`, { method: 'POST' }))).toEqual({ instancesDeleted: 1 });
    expect(await json(await fetch(`${host.url}/api/client/purge/wait-2`, { method: 'POST' }))).toEqual({ instancesDeleted: 0 });
    expect((await fetch(second.body.statusQueryGetUri as string)).status).toBe(404);
  });

  it('starting the same instance id twice concurrently creates one instance; the other start is refused', async () => {
    const [a, b] = await Promise.all([start('WaitForever', undefined, 'dup-1'), start('WaitForever', undefined, 'dup-1')]);
    expect([a.response.status, b.response.status].sort()).toEqual([202, 500]);
    const list = (await json(await fetch(`${host.url}/runtime/webhooks/durabletask/instances?instanceIdPrefix=dup-`))) as unknown[];
    expect(list).toHaveLength(1);
    await fetch(`${host.url}/runtime/webhooks/durabletask/instances/dup-1/terminate?reason=done`, { method: 'POST' });
  });

  it('purges by filter: createdTimeFrom and runtimeStatus; 404 when nothing matches', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    await run('Throws', undefined, 'purge-me');
    const api = `${host.url}/runtime/webhooks/durabletask/instances?createdTimeFrom=${since}&runtimeStatus=Failed`;
    const purged = await fetch(api, { method: 'DELETE' });
    expect(purged.status).toBe(200);
    expect(((await json(purged)) as { instancesDeleted: number }).instancesDeleted).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${host.url}/runtime/webhooks/durabletask/instances/purge-me`)).status).toBe(404);
    expect((await fetch(api, { method: 'DELETE' })).status).toBe(404);
  });

  it('start-and-wait answers 200 with the output; restart runs the same input again', async () => {
    const api = `${host.url}/runtime/webhooks/durabletask`;
    const waited = await fetch(`${api}/orchestrators/FanOut/wait-and-see?timeout=20&pollingInterval=0.1`, { method: 'POST', body: JSON.stringify({ count: 3 }) });
    expect(waited.status).toBe(200);
    expect(await json(waited)).toEqual({ count: 3, sum: 6 });
    const restarted = await fetch(`${api}/instances/wait-and-see/restart`, { method: 'POST' });
    expect(restarted.status).toBe(202);
    const again = (await json(restarted)) as { id: string; statusQueryGetUri: string };
    expect(again.id).not.toBe('wait-and-see');
    expect(await waitForStatus(again.statusQueryGetUri)).toMatchObject({ runtimeStatus: 'Completed', input: { count: 3 }, output: { count: 3, sum: 6 } });
    expect((await fetch(`${api}/instances/nobody/restart`, { method: 'POST' })).status).toBe(404);
  });

  it('drops duplicate completions (at-least-once activities) and messages to ended instances', async () => {
    const { body } = await start('ActivityThenWait', undefined, 'dup-done');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const inject = async (instanceId: string, result: string) => {
      await client.query(
        `INSERT INTO durable_fixturehub.inbox (instance_id, execution_id, event) VALUES ($1, NULL, $2)`,
        [instanceId, JSON.stringify({ EventType: 5, EventId: -1, IsPlayed: false, Timestamp: new Date().toISOString(), TaskScheduledId: 0, Result: result })],
      );
      await client.query(`SELECT pg_notify('durable_fixturehub_orchestrations', '')`);
    };
    const completions = async (instanceId: string) =>
      (await client.query(`SELECT count(*)::int AS n FROM durable_fixturehub.history WHERE instance_id = $1 AND (event::jsonb ->> 'EventType')::int = 5`, [instanceId])).rows[0];
    try {
      for (let i = 0; i < 100 && (await completions('dup-done'))?.n !== 1; i++) await new Promise((r) => setTimeout(r, 50));
      await inject('dup-done', '999');
      await new Promise((r) => setTimeout(r, 300));
      expect(await completions('dup-done')).toEqual({ n: 1 });
      await fetch(`${host.url}/api/client/raise/dup-done`, { method: 'POST', body: 'true' });
      expect((await waitForStatus(body.statusQueryGetUri as string)).output).toBe(2);

      await inject('dup-done', '123');
      await new Promise((r) => setTimeout(r, 300));
      const left = await client.query(`SELECT count(*)::int AS n FROM durable_fixturehub.inbox WHERE instance_id = 'dup-done'`);
      expect(left.rows[0]).toEqual({ n: 0 });
      expect(await completions('dup-done')).toEqual({ n: 1 });
    } finally {
      await client.end();
    }
  });

  it('management API: status codes for malformed and unknown requests', async () => {
    const api = `${host.url}/runtime/webhooks/durabletask`;
    expect((await fetch(`${api}/orchestrators/NoSuchOrchestrator`, { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${api}/orchestrators/Chain/@bad`, { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${api}/orchestrators/Chain/x1`, { method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await fetch(`${api}/instances/does-not-exist`)).status).toBe(404);
    expect((await fetch(`${api}/instances/does-not-exist/raiseEvent/E`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '1' })).status).toBe(404);
    expect((await fetch(`${api}/instances/does-not-exist/terminate`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${api}/instances`, { method: 'DELETE' })).status).toBe(400);
    expect((await fetch(`${api}/entities/NoSuchEntity/k?op=add`, { method: 'POST' })).status).toBe(400);
  });

  it('lists instances with filters and continuation tokens (the client concatenates pages)', async () => {
    for (let i = 0; i < 3; i++) await run('Chain', undefined, `page-${i}`);
    const api = `${host.url}/runtime/webhooks/durabletask/instances?instanceIdPrefix=page-&top=2&runtimeStatus=Completed`;
    const first = await fetch(api);
    const token = first.headers.get('x-ms-continuation-token');
    expect((await json(first)) as unknown[]).toHaveLength(2);
    expect(token).toBeTruthy();
    const second = await fetch(`${api}&continuationToken=${token}`);
    expect((await json(second)) as unknown[]).toHaveLength(1);
    expect(second.headers.get('x-ms-continuation-token')).toBeNull();
    const viaClient = (await json(await fetch(`${host.url}/api/client/list/Completed`))) as Array<{ instanceId: string }>;
    expect(viaClient.map((s) => s.instanceId)).toEqual(expect.arrayContaining(['page-0', 'page-1', 'page-2', 'chain-1']));
  });
});
