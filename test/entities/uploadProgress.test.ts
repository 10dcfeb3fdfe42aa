import { beforeAll, describe, expect, it } from 'vitest';
import { findFunction, Invoker } from '../../local/src/host/invoke.js';
import { HostLogger } from '../../local/src/host/logger.js';
import { loadApp, type RegisteredFunction } from '../../local/src/host/registry.js';
import type { UploadProgressState } from '../../src/entities/uploadProgress.js';
import type { ProgressOperation } from '../../src/ingestContracts.js';

type Operation = ProgressOperation | { op: string; input?: unknown };

let entity: RegisteredFunction;
let invoker: Invoker;

/** The compiled app's uploadProgress entity (npm test builds first), called as the extension calls it: one batch of signals. */
beforeAll(async () => {
  const registry = await loadApp(process.cwd());
  entity = findFunction(registry, 'entityTrigger', 'uploadProgress')!;
  invoker = new Invoker(registry, new HostLogger('none'), 10_000);
});

async function signal(state: UploadProgressState | undefined, ...operations: Operation[]) {
  const trigger = {
    self: { name: 'uploadProgress', key: 'u1' },
    exists: state !== undefined,
    state: state === undefined ? null : JSON.stringify(state),
    batch: operations.map(({ op, input }) => ({ name: op, input: input === undefined ? null : JSON.stringify(input), isSignal: true })),
  };
  const result = await invoker.invoke(entity, { trigger: { string: JSON.stringify(trigger) } });
  expect(result.error).toBeUndefined();
  const batch = JSON.parse(result.returnValue!.json!) as { entityState?: string; results: Array<{ isError: boolean; result?: string }> };
  return { state: batch.entityState === undefined ? undefined : (JSON.parse(batch.entityState) as UploadProgressState), failed: batch.results.map((r) => r.isError) };
}

const started: Operation = { op: 'started', input: { chunksTotal: 10, rowsTotal: 1000 } };
const committed = (chunksDone: number): Operation => ({ op: 'committed', input: { chunksDone, rowsCommitted: chunksDone * 99, rowsRejected: chunksDone } });

describe('uploadProgress entity', () => {
  it('follows an upload from started through committed totals to finished', async () => {
    const { state, failed } = await signal(undefined, started, committed(4), committed(10), {
      op: 'finished', input: { status: 'failed', rowsCommitted: 0, rowsRejected: 10, reason: 'too many rejected rows' },
    });
    expect(failed).toEqual([false, false, false, false]);
    expect(state).toMatchObject({
      status: 'failed', chunksTotal: 10, rowsTotal: 1000, chunksDone: 10, rowsCommitted: 0, rowsRejected: 10, reason: 'too many rejected rows',
    });
    expect(Date.parse(state!.startedAt!)).not.toBeNaN();
    expect(Date.parse(state!.updatedAt!)).toBeGreaterThanOrEqual(Date.parse(state!.startedAt!));
  });

  it('takes committed counts as totals across batches, and never moves back for a late one', async () => {
    const first = await signal(undefined, started, committed(6));
    expect(first.state).toMatchObject({ status: 'running', chunksDone: 6, rowsCommitted: 594, rowsRejected: 6 });
    const second = await signal(first.state, committed(3), committed(8));
    expect(second.state).toMatchObject({ chunksDone: 8, rowsCommitted: 792, rowsRejected: 8 });
    expect(second.state!.startedAt).toBe(first.state!.startedAt);
  });

  it('counts committed totals that arrive before started (sub-orchestrations and their parent are not ordered)', async () => {
    const { state } = await signal(undefined, committed(2), started);
    expect(state).toMatchObject({ status: 'running', chunksTotal: 10, chunksDone: 2, rowsCommitted: 198 });
  });

  it('keeps the final counts when a committed signal arrives after finished', async () => {
    const { state } = await signal(undefined, started, { op: 'finished', input: { status: 'complete', rowsCommitted: 980, rowsRejected: 20 } }, committed(9));
    expect(state).toMatchObject({ status: 'complete', rowsCommitted: 980, rowsRejected: 20 });
  });

  it('keeps the first start time when started is signalled again', async () => {
    const first = await signal(undefined, started);
    await new Promise((done) => setTimeout(done, 5));
    const again = await signal(first.state, started);
    expect(again.state!.startedAt).toBe(first.state!.startedAt);
  });

  it('fails an unknown operation alone and keeps the state', async () => {
    const { state, failed } = await signal(undefined, started, { op: 'chunksCommitted', input: { chunks: 1 } }, committed(1));
    expect(failed).toEqual([false, true, false]);
    expect(state).toMatchObject({ status: 'running', chunksDone: 1 });
  });
});
