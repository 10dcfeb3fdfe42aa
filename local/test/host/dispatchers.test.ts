import { afterEach, describe, expect, it } from 'vitest';
import { registerTriggerDispatcher, startHost, type RunningHost } from '../../src/host/host.js';
import { fileURLToPath } from 'node:url';
import { json } from './support.js';

const timerApp = fileURLToPath(new URL('../fixtures/timer-app', import.meta.url));
const cjsApp = fileURLToPath(new URL('../fixtures/cjs-app', import.meta.url));
let host: RunningHost | undefined;

afterEach(async () => {
  await host?.stop();
  host = undefined;
});

describe('trigger dispatchers', () => {
  it('runs NCRONTAB timer triggers (six fields, seconds first), app hooks, and an Event Hub dispatcher plugged in by binding type', async () => {
    const seenBindings: Array<Record<string, unknown>> = [];
    // The seam another module (local/src/eventhubs) uses: given the function metadata, start consuming and invoke.
    registerTriggerDispatcher('eventHubTrigger', async (fn, { invoke }) => {
      seenBindings.push(fn.trigger);
      const result = await invoke({
        trigger: { json: JSON.stringify([{ uploadId: 'u1' }, { uploadId: 'u2' }]) },
        triggerMetadata: { partitionContext: { json: JSON.stringify({ partitionId: '0' }) } },
      });
      if (result.error) throw result.error;
      return { stop: async () => {} };
    });
    host = await startHost({ appDir: timerApp, port: 0, env: { EVENT_HUB_NAME: 'participants' } });
    await new Promise((r) => setTimeout(r, 2300));
    const state = (await json(await fetch(`${host.url}/api/state`))) as { ticks: Array<{ isPastDue: boolean; hasSchedule: boolean }>; received: unknown[] };
    expect(state.ticks.length).toBeGreaterThanOrEqual(2);
    expect(state.ticks[0]).toEqual({ isPastDue: false, hasSchedule: true });
    expect(state.received).toEqual([{ messages: [{ uploadId: 'u1' }, { uploadId: 'u2' }], partition: '0' }]);
    expect(await json(await fetch(`${host.url}/api/wrapped`))).toEqual({ wrapped: true, inner: { value: 1 } });
    const after = (await json(await fetch(`${host.url}/api/state`))) as { hookCalls: string[] };
    expect(after.hookCalls).toEqual(['appStart:object', 'postInvocation:preInvocation']);
    expect(seenBindings[0]).toMatchObject({ type: 'eventHubTrigger', eventHubName: 'participants', cardinality: 'many' });
  });
});

describe('more than one app in one process', () => {
  it('loads a CommonJS app (compiled-TS layout, main in dist/) after an ESM app; authLevel is accepted without keys', async () => {
    host = await startHost({ appDir: cjsApp, port: 0 });
    expect(host.functions).toEqual([{ name: 'Ping', trigger: 'httpTrigger', methods: ['GET'], url: `${host.url}/api/ping/{*rest}` }]);
    expect(await json(await fetch(`${host.url}/api/ping/a/b`))).toEqual({ pong: 'a/b' });
  });
});
