import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/host/host.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { fixtureApp, json, waitForStatus } from './support.js';

let db: TestDatabase;
let host: RunningHost;
let sql: pg.Client;
let api = '';

beforeAll(async () => {
  db = await createTestDatabase('rewind');
  host = await startHost({ appDir: fixtureApp, port: 0, databaseUrl: db.url, activityLeaseMs: 5000, log: () => {} });
  api = `${host.url}/runtime/webhooks/durabletask`;
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await host?.stop();
  await db?.drop();
});

const broken = (key: string, method: 'POST' | 'DELETE' | 'GET') =>
  fetch(`${host.url}/api/broken/${key}`, { method }).then((r) => r.json() as Promise<{ runs: number; stepRuns: number }>);

/** Starts `name` with `key` broken and waits for it to fail. */
async function failed(name: string, key: string, id: string) {
  await broken(key, 'POST');
  const started = await fetch(`${host.url}/api/orchestrators/${name}/${id}`, { method: 'POST', body: JSON.stringify(key) });
  expect(started.status).toBe(202);
  const status = await waitForStatus(`${api}/instances/${id}`);
  expect(status.runtimeStatus).toBe('Failed');
  return status;
}

async function history(id: string): Promise<Array<{ EventType: number; EventId: number; Data?: string; Reason?: string }>> {
  const { rows } = await sql.query<{ event: never }>(`SELECT event::jsonb AS event FROM durable_fixturehub.history WHERE instance_id = $1 ORDER BY seq`, [id]);
  return rows.map((r) => r.event);
}

describe('rewind on the local host (DurableTask.AzureStorage semantics)', () => {
  it('replays a failed orchestration from its failed call: earlier calls are not run again, and it completes', async () => {
    const before = await failed('RewindMe', 'k1', 'rewind-1');
    expect(String(before.output)).toContain('k1 is broken');
    expect(await broken('k1', 'GET')).toMatchObject({ runs: 1, stepRuns: 1 });
    await broken('k1', 'DELETE');

    // Through the unmodified durable client (POST {rpc}instances/{id}/rewind).
    expect((await fetch(`${host.url}/api/client/rewind/rewind-1`, { method: 'POST' })).status).toBe(202);
    const after = await waitForStatus(`${api}/instances/rewind-1`);
    expect(after).toMatchObject({ runtimeStatus: 'Completed', output: ['step k1', 'k1 fixed'] });
    expect(await broken('k1', 'GET')).toMatchObject({ runs: 2, stepRuns: 1 });

    // The failure and the call it answered became GenericEvents (17) in place, the rewind message (with its reason)
    // started the replay, and the call was scheduled again under its id.
    const events = await history('rewind-1');
    expect(events.filter((e) => e.EventType === 17).map((e) => e.Data)).toEqual(['Rewound: TaskScheduled', 'Rewound: TaskFailed', 'Rewound: ExecutionCompleted', 'cause fixed']);
    expect(events.filter((e) => e.EventType === 4).map((e) => e.EventId)).toEqual([0, 1]);
    expect(events.some((e) => e.EventType === 6)).toBe(false);
  });

  it('answers like the extension: 404 unknown, 410 completed, 500 while not failed; a repeated rewind changes nothing', async () => {
    expect((await fetch(`${api}/instances/no-such/rewind?reason=x`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${api}/instances/rewind-1/rewind?reason=x`, { method: 'POST' })).status).toBe(410);

    await failed('RewindMe', 'k2', 'rewind-2');
    // Still broken: the first rewind runs the call again and fails again; the second, sent at once, finds it not failed.
    const [first, second] = await Promise.all([
      fetch(`${api}/instances/rewind-2/rewind?reason=one`, { method: 'POST' }),
      fetch(`${api}/instances/rewind-2/rewind?reason=two`, { method: 'POST' }),
    ]);
    expect([first.status, second.status].sort()).toEqual([202, 500]);
    const refused = first.status === 500 ? first : second;
    expect(((await json(refused)) as { message: string }).message).toBe('The rewind operation is only supported on failed orchestration instances.');
    expect((await waitForStatus(`${api}/instances/rewind-2`)).runtimeStatus).toBe('Failed');
    expect(await broken('k2', 'GET')).toMatchObject({ runs: 2, stepRuns: 1 });

    await broken('k2', 'DELETE');
    expect((await fetch(`${api}/instances/rewind-2/rewind?reason=fixed`, { method: 'POST' })).status).toBe(202);
    expect((await waitForStatus(`${api}/instances/rewind-2`)).runtimeStatus).toBe('Completed');
    expect(await broken('k2', 'GET')).toMatchObject({ runs: 3, stepRuns: 1 });
  });

  it('rewinds a failed sub-orchestration with its parent: the child replays, the parent resumes when it completes', async () => {
    await failed('RewindParent', 'k3', 'rewind-3');
    expect((await waitForStatus(`${api}/instances/rewind-3-child`)).runtimeStatus).toBe('Failed');
    await broken('k3', 'DELETE');
    expect((await fetch(`${api}/instances/rewind-3/rewind?reason=fixed`, { method: 'POST' })).status).toBe(202);
    const parent = await waitForStatus(`${api}/instances/rewind-3`);
    expect(parent).toMatchObject({ runtimeStatus: 'Completed', output: { step: 'step k3', child: ['step k3', 'k3 fixed'] } });
    expect((await waitForStatus(`${api}/instances/rewind-3-child`)).runtimeStatus).toBe('Completed');
    // The parent's step and the child's step each ran once; only the failed call ran again.
    expect(await broken('k3', 'GET')).toMatchObject({ runs: 2, stepRuns: 2 });
    // The parent kept the child's creation (noted as rewound) and rescheduled nothing of its own.
    const created = (await history('rewind-3')).filter((e) => e.EventType === 7);
    expect(created.map((e) => e.Reason)).toEqual(['Rewound: SubOrchestrationInstanceCreated']);
  });

  it('after runtime retries the retry timers stay in history, so the replay fails as non-deterministic, as on Azure', async () => {
    await failed('RewindAfterRetries', 'k4', 'rewind-4');
    await broken('k4', 'DELETE');
    const runsBefore = (await broken('k4', 'GET')).runs;
    expect((await fetch(`${api}/instances/rewind-4/rewind?reason=fixed`, { method: 'POST' })).status).toBe(202);
    const status = await waitForStatus(`${api}/instances/rewind-4`);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('Non-Deterministic workflow detected: TimerCreatedEvent: 1 TimerCreated');
    // DTFx fails such a replay before scheduling anything.
    expect((await broken('k4', 'GET')).runs).toBe(runsBefore);
  });
});
