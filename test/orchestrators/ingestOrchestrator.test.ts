import { describe, expect, it } from 'vitest';
import type {
  ActivateResult, ChunkRangeInput, ChunksMissing, ChunkRangeResult, CommitInput, IngestInput, IngestOutput, PlanResult, RegisterResult,
} from '../../src/ingestContracts.js';
import { functionNames } from '../../src/functionNames.js';
import { runOrchestration, type Call } from '../support/orchestration.js';

const INPUT = { state: 'CA', container: 'uploads', blobName: 'ca/p.csv', etag: '0x8D1' } as IngestInput;
const REGISTERED: RegisterResult = { uploadId: 'u1', finished: false, status: 'pending', maxChunksInFlight: 4 };
const COMPLETE: ActivateResult = { status: 'complete', rowsCommitted: 290, rowsRejected: 10 };
const DELETE_RETRY = { firstRetryIntervalInMilliseconds: 2_000, maxNumberOfAttempts: 5, backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 30_000 };

interface Script {
  register?: RegisterResult;
  plan?: PlanResult | Error;
  commit?: (chunkNo: number) => unknown;
  range?: (input: ChunkRangeInput) => ChunkRangeResult;
  /** activateUpload's answer, or a function of the activation's number (from 1). */
  activate?: ActivateResult | ((round: number) => ActivateResult | ChunksMissing);
  fail?: ActivateResult;
  deleteBlob?: () => unknown;
  publish?: () => unknown;
}

/** Runs ingestOrchestrator with each activity answered from `script` (defaults: a 3-chunk upload that completes). */
async function ingest(script: Script = {}) {
  let activations = 0;
  const run = await runOrchestration(functionNames.ingestOrchestrator, {
    input: INPUT,
    instanceId: 'ingest-u1',
    answer: (call: Call) => {
      switch (call.name) {
        case 'registerUpload':
          return script.register ?? REGISTERED;
        case 'planUpload':
          if (script.plan instanceof Error) throw script.plan;
          return script.plan ?? { ok: true, chunksTotal: 3, rowsTotal: 300 };
        case 'commitChunk': {
          const { chunkNo } = call.input as CommitInput;
          return script.commit?.(chunkNo) ?? { ok: true, chunkNo, rowsCommitted: 97, rowsRejected: 3 };
        }
        case 'ingestChunksOrchestrator':
          return script.range!(call.input as ChunkRangeInput);
        case 'activateUpload':
          activations++;
          return typeof script.activate === 'function' ? script.activate(activations) : script.activate ?? COMPLETE;
        case 'failUpload':
          return script.fail ?? { status: 'failed', rowsCommitted: 0, rowsRejected: 0, reason: 'failed' };
        case 'publishOutbox':
          return script.publish?.() ?? { published: 1, pending: 0 };
        case 'deleteUploadBlob':
          return script.deleteBlob?.() ?? 'deleted';
        default:
          throw new Error(`unexpected call ${call.name}`);
      }
    },
  });
  const names = run.calls.map((call) => call.name);
  const phases = run.statuses.map((status) => (status as { phase: string }).phase);
  const call = (name: string) => run.calls.find((c) => c.name === name) as Extract<Call, { kind: 'activity' }> | undefined;
  return { ...run, names, phases, call, output: run.output as IngestOutput };
}

describe('ingestOrchestrator', () => {
  it('registers, plans, commits, activates, publishes and deletes the raw file, with the result counts of activation', async () => {
    const run = await ingest();
    expect(run.names).toEqual(['registerUpload', 'planUpload', 'commitChunk', 'commitChunk', 'commitChunk', 'activateUpload', 'publishOutbox', 'deleteUploadBlob']);
    expect(run.call('registerUpload')!.input).toEqual(INPUT);
    // The file's readers get the blob version from the orchestration's input, not through a lookup.
    expect(run.call('planUpload')!.input).toEqual({ uploadId: 'u1', blob: INPUT });
    expect(run.calls.filter((call) => call.name === 'commitChunk').map((call) => call.input)).toEqual([0, 1, 2].map((chunkNo) => ({ uploadId: 'u1', blob: INPUT, chunkNo })));
    expect(run.call('activateUpload')!.input).toEqual({ uploadId: 'u1' });
    expect(run.call('publishOutbox')!.input).toEqual({ uploadId: 'u1' });
    expect(run.call('deleteUploadBlob')!.input).toEqual({ uploadId: 'u1' });
    expect(run.output).toEqual({ uploadId: 'u1', status: 'complete', rowsCommitted: 290, rowsRejected: 10, chunksTotal: 3 });
  });

  it('gives the steps an upload can fail on no runtime retries (they retry transient faults in place, so a failure stays rewindable); deletes retry 5 times from 2 s; publishing never', async () => {
    const run = await ingest();
    for (const name of ['registerUpload', 'planUpload', 'activateUpload', 'publishOutbox']) expect(run.call(name)!.retry, name).toBeUndefined();
    expect(run.call('deleteUploadBlob')!.retry).toMatchObject(DELETE_RETRY);
  });

  it('reports each phase on customStatus and tells the progress entity started, committed and finished', async () => {
    const run = await ingest();
    // One status per episode: the counts after the last wave and 'activating' are written in the same one.
    expect(run.phases).toEqual(['registering', 'planning', 'committing', 'activating', 'publishing', 'publishing', 'done']);
    expect(run.statuses[3]).toEqual({ phase: 'activating', chunksTotal: 3, chunksDone: 3, rowsCommitted: 291, rowsRejected: 9 });
    expect(run.statuses.at(-1)).toEqual({ phase: 'done', chunksTotal: 3, chunksDone: 3, rowsCommitted: 290, rowsRejected: 10 });
    expect(run.signals).toEqual([
      { instanceId: '@uploadprogress@u1', operation: 'started', input: { chunksTotal: 3, rowsTotal: 300 } },
      { instanceId: '@uploadprogress@u1', operation: 'committed', input: { chunksDone: 3, rowsCommitted: 291, rowsRejected: 9 } },
      { instanceId: '@uploadprogress@u1', operation: 'finished', input: { status: 'complete', rowsCommitted: 290, rowsRejected: 10 } },
    ]);
  });

  it('keeps the outcome when the raw file cannot be deleted (housekeeping deletes it later)', async () => {
    const run = await ingest({ deleteBlob: () => { throw new Error('lease on the blob'); } });
    expect(run.names.slice(-2)).toEqual(['publishOutbox', 'deleteUploadBlob']);
    expect(run.executed.filter((call) => call.name === 'deleteUploadBlob')).toHaveLength(5);
    expect(run.output).toEqual({ uploadId: 'u1', status: 'complete', rowsCommitted: 290, rowsRejected: 10, chunksTotal: 3 });
    expect(run.phases.at(-1)).toBe('done');
  });

  it('keeps the outcome when publishing throws (the database gone at that moment): the sweeper sends the event later', async () => {
    const run = await ingest({ publish: () => { throw new Error('connection refused'); } });
    expect(run.output).toEqual({ uploadId: 'u1', status: 'complete', rowsCommitted: 290, rowsRejected: 10, chunksTotal: 3 });
    expect(run.names.slice(-2)).toEqual(['publishOutbox', 'deleteUploadBlob']);
    expect(run.executed.filter((call) => call.name === 'publishOutbox')).toHaveLength(1);
    expect(run.phases.at(-1)).toBe('done');
  });

  it('does nothing more for an upload that had already finished', async () => {
    const run = await ingest({ register: { ...REGISTERED, finished: true, status: 'superseded' } });
    expect(run.names).toEqual(['registerUpload']);
    expect(run.signals).toEqual([]);
    expect(run.phases).toEqual(['registering', 'done']);
    expect(run.output).toEqual({ uploadId: 'u1', status: 'superseded', rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0 });
  });

  it('publishes the failure of a bad file that planning reported (the activity has failed the upload)', async () => {
    const run = await ingest({
      plan: { ok: false, code: 'missing_column', message: 'line 1: participant_id is missing' },
      commit: (chunkNo) => ({ ok: false, chunkNo, transient: false, code: 'PermanentError', message: `chunk ${chunkNo} is not planned` }),
    });
    // Chunk 0 was committing alongside the plan; with no plan its result counts for nothing.
    expect(run.names).toEqual(['registerUpload', 'planUpload', 'commitChunk', 'publishOutbox', 'deleteUploadBlob']);
    expect(run.output).toEqual({ uploadId: 'u1', status: 'failed', rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0, reason: 'line 1: participant_id is missing' });
    expect(run.signals).toEqual([
      { instanceId: '@uploadprogress@u1', operation: 'finished', input: { status: 'failed', rowsCommitted: 0, rowsRejected: 0, reason: 'line 1: participant_id is missing' } },
    ]);
    expect(run.phases).toEqual(['registering', 'planning', 'publishing', 'publishing', 'done']);
  });

  it('fails the upload itself when planning throws (after its in-place retries)', async () => {
    const run = await ingest({ plan: new Error('connection reset') });
    expect(run.names).toEqual(['registerUpload', 'planUpload', 'commitChunk', 'failUpload', 'publishOutbox', 'deleteUploadBlob']);
    // The reason as the extension records it, without the serialized exception (and stack) it records beside it.
    const reason = "planning failed: Activity function 'planUpload' failed: connection reset";
    expect(run.call('failUpload')!.input).toEqual({ uploadId: 'u1', code: 'plan_failed', message: reason });
    expect(run.call('failUpload')!.retry).toBeUndefined();
    expect(run.output).toEqual({ uploadId: 'u1', status: 'failed', rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0, reason });
    expect(run.executed.filter((call) => call.name === 'planUpload')).toHaveLength(1);
    expect(run.retryDelays).toEqual([]);
  });

  it('fails the upload with the chunk and its reason when a chunk fails for good, instead of activating', async () => {
    const fail: ActivateResult = { status: 'failed', rowsCommitted: 0, rowsRejected: 3, reason: 'chunk 1: blob changed' };
    const run = await ingest({
      commit: (chunkNo) => (chunkNo === 1 ? { ok: false, chunkNo, transient: false, code: 'BlobChanged', message: 'blob changed' } : undefined),
      fail,
    });
    expect(run.names).not.toContain('activateUpload');
    expect(run.call('failUpload')!.input).toEqual({ uploadId: 'u1', code: 'BlobChanged', message: 'chunk 1: blob changed' });
    expect(run.output).toEqual({ uploadId: 'u1', status: 'failed', rowsCommitted: 0, rowsRejected: 3, chunksTotal: 3, reason: 'chunk 1: blob changed' });
    expect(run.phases.slice(-4)).toEqual(['activating', 'publishing', 'publishing', 'done']);
  });

  it('commits again the chunks activation found missing (commits a database crash lost), consecutive ones in one range, and activates again', async () => {
    const missing: ChunksMissing = { status: 'chunks_missing', missingChunks: [1, 2, 4], committed: { chunksDone: 3, rowsCommitted: 291, rowsRejected: 9 } };
    const run = await ingest({ plan: { ok: true, chunksTotal: 6, rowsTotal: 600 }, activate: (round) => (round === 1 ? missing : COMPLETE) });
    expect(run.calls.filter((call) => call.name === 'commitChunk').map((call) => (call.input as CommitInput).chunkNo)).toEqual([0, 1, 2, 3, 4, 5, 1, 2, 4]);
    expect(run.yielded.filter((task) => task.kind === 'all').slice(-2).map((task) => task.tasks.map((t) => (t as Call & { input: CommitInput }).input.chunkNo)))
      .toEqual([[1, 2], [4]]);
    expect(run.names.filter((name) => name === 'activateUpload')).toHaveLength(2);
    expect(run.names).not.toContain('failUpload');
    // Progress restarts from what the ledger holds, so the chunks committed again are not counted twice.
    expect(run.signals.filter((signal) => signal.operation === 'committed').map((signal) => signal.input).slice(-2)).toEqual([
      { chunksDone: 5, rowsCommitted: 485, rowsRejected: 15 },
      { chunksDone: 6, rowsCommitted: 582, rowsRejected: 18 },
    ]);
    expect(run.output).toEqual({ uploadId: 'u1', status: 'complete', rowsCommitted: 290, rowsRejected: 10, chunksTotal: 6 });
  });

  it('fails the upload with the chunk and its reason when a missing chunk cannot be committed again', async () => {
    const missing: ChunksMissing = { status: 'chunks_missing', missingChunks: [2], committed: { chunksDone: 2, rowsCommitted: 194, rowsRejected: 6 } };
    let commits = 0;
    const run = await ingest({
      activate: () => missing,
      commit: (chunkNo) => (++commits > 3 ? { ok: false, chunkNo, transient: false, code: 'BlobChanged', message: 'blob changed' } : undefined),
    });
    expect(run.names.filter((name) => name === 'activateUpload')).toHaveLength(1);
    expect(run.call('failUpload')!.input).toEqual({ uploadId: 'u1', code: 'BlobChanged', message: 'chunk 2: blob changed' });
    expect(run.output.status).toBe('failed');
  });

  it('commits up to 500 chunks in its own history, in waves of maxChunksInFlight', async () => {
    const run = await ingest({ plan: { ok: true, chunksTotal: 500, rowsTotal: 50_000 }, register: { ...REGISTERED, maxChunksInFlight: 32 } });
    expect(run.names.filter((name) => name === 'commitChunk')).toHaveLength(500);
    expect(run.names).not.toContain('ingestChunksOrchestrator');
    // The plan with chunk 0, then chunks 1-499.
    expect(run.yielded.filter((task) => task.kind === 'all').map((task) => task.tasks.length)).toEqual([2, ...Array(15).fill(32), 19]);
  });

  it('commits chunk 0 alongside the plan and counts it with the first wave', async () => {
    const run = await ingest();
    expect(run.yielded[1]).toMatchObject({
      kind: 'all',
      tasks: [{ name: 'planUpload', input: { uploadId: 'u1', blob: INPUT } }, { name: 'commitChunk', input: { uploadId: 'u1', blob: INPUT, chunkNo: 0 } }],
    });
    expect(run.calls.filter((call) => call.name === 'commitChunk').map((call) => (call.input as CommitInput).chunkNo)).toEqual([0, 1, 2]);
    expect(run.signals.filter((signal) => signal.operation === 'committed').map((signal) => signal.input)).toEqual([
      { chunksDone: 3, rowsCommitted: 291, rowsRejected: 9 },
    ]);
  });

  it('retries chunk 0 with the first wave when it failed transiently alongside the plan', async () => {
    const tries = new Map<number, number>();
    const run = await ingest({
      commit: (chunkNo) => {
        tries.set(chunkNo, (tries.get(chunkNo) ?? 0) + 1);
        return chunkNo === 0 && tries.get(0) === 1 ? { ok: false, chunkNo, transient: true, code: 'TransientError', message: 'connection reset' } : undefined;
      },
    });
    expect(run.calls.filter((call) => call.name === 'commitChunk').map((call) => (call.input as CommitInput).chunkNo)).toEqual([0, 1, 2, 0]);
    expect(run.delays).toEqual([2_000]);
    expect(run.output).toEqual({ uploadId: 'u1', status: 'complete', rowsCommitted: 290, rowsRejected: 10, chunksTotal: 3 });
    expect(run.statuses.find((status) => (status as { phase: string }).phase === 'activating'))
      .toEqual({ phase: 'activating', chunksTotal: 3, chunksDone: 3, rowsCommitted: 291, rowsRejected: 9 });
  });

  it('fails the upload when chunk 0 fails for good alongside the plan', async () => {
    const run = await ingest({
      commit: (chunkNo) => (chunkNo === 0 ? { ok: false, chunkNo, transient: false, code: 'BlobChanged', message: 'blob changed' } : undefined),
    });
    expect(run.call('failUpload')!.input).toEqual({ uploadId: 'u1', code: 'BlobChanged', message: 'chunk 0: blob changed' });
    expect(run.names).not.toContain('activateUpload');
  });

  it('splits larger uploads into sub-orchestrations of 500 chunks, one after another, each starting from the totals so far', async () => {
    const ranges: ChunkRangeInput[] = [];
    const run = await ingest({
      plan: { ok: true, chunksTotal: 1201, rowsTotal: 120_100 },
      range: (input) => {
        ranges.push(input);
        const chunks = input.to - input.from;
        return { chunksDone: input.progress.chunksDone + chunks, rowsCommitted: input.progress.rowsCommitted + chunks * 99, rowsRejected: input.progress.rowsRejected + chunks };
      },
    });
    // Chunk 0 commits alongside the plan, in the parent; the blocks start after it.
    expect(run.calls.filter((call) => call.name === 'commitChunk').map((call) => call.input)).toEqual([{ uploadId: 'u1', blob: INPUT, chunkNo: 0 }]);
    expect(run.calls.filter((call) => call.kind === 'subOrchestration').map((call) => call.instanceId)).toEqual([
      'ingest-u1:chunks-1', 'ingest-u1:chunks-501', 'ingest-u1:chunks-1001',
    ]);
    expect(ranges.map(({ from, to, maxChunksInFlight, uploadId, blob }) => ({ uploadId, blob, from, to, maxChunksInFlight }))).toEqual([
      { uploadId: 'u1', blob: INPUT, from: 1, to: 501, maxChunksInFlight: 4 },
      { uploadId: 'u1', blob: INPUT, from: 501, to: 1001, maxChunksInFlight: 4 },
      { uploadId: 'u1', blob: INPUT, from: 1001, to: 1201, maxChunksInFlight: 4 },
    ]);
    expect(ranges.map((range) => range.progress)).toEqual([
      { phase: 'committing', chunksTotal: 1201, chunksDone: 1, rowsCommitted: 97, rowsRejected: 3 },
      { phase: 'committing', chunksTotal: 1201, chunksDone: 501, rowsCommitted: 49_597, rowsRejected: 503 },
      { phase: 'committing', chunksTotal: 1201, chunksDone: 1001, rowsCommitted: 99_097, rowsRejected: 1003 },
    ]);
    // One status per episode: the totals so far after each block; the last block's arrive together with 'activating'.
    expect(run.statuses.slice(-6, -3)).toEqual([
      { phase: 'committing', chunksTotal: 1201, chunksDone: 501, rowsCommitted: 49_597, rowsRejected: 503 },
      { phase: 'committing', chunksTotal: 1201, chunksDone: 1001, rowsCommitted: 99_097, rowsRejected: 1003 },
      { phase: 'activating', chunksTotal: 1201, chunksDone: 1201, rowsCommitted: 118_897, rowsRejected: 1203 },
    ]);
    // The parent tells the entity of chunk 0; the sub-orchestrations of the rest.
    expect(run.signals.map((signal) => signal.operation)).toEqual(['started', 'committed', 'finished']);
    expect(run.names.slice(-3)).toEqual(['activateUpload', 'publishOutbox', 'deleteUploadBlob']);
  });

  it('stops at the first sub-orchestration that reports a failed chunk and fails the upload', async () => {
    const run = await ingest({
      plan: { ok: true, chunksTotal: 1500, rowsTotal: 150_000 },
      range: (input) => ({
        chunksDone: input.progress.chunksDone + (input.from === 501 ? 10 : 500), rowsCommitted: 0, rowsRejected: 0,
        ...(input.from === 501 ? { failure: { chunkNo: 510, code: 'ECONNRESET', message: 'connection reset (gave up after 8 attempts)' } } : {}),
      }),
    });
    expect(run.calls.filter((call) => call.kind === 'subOrchestration')).toHaveLength(2);
    expect(run.call('failUpload')!.input).toEqual({ uploadId: 'u1', code: 'ECONNRESET', message: 'chunk 510: connection reset (gave up after 8 attempts)' });
    expect(run.names).not.toContain('activateUpload');
  });
});

describe('ingestChunksOrchestrator', () => {
  it('commits its range and reports the upload totals in the same shape as its parent', async () => {
    const progress = { phase: 'committing', chunksTotal: 1201, chunksDone: 1000, rowsCommitted: 99_000, rowsRejected: 1000 };
    const input: ChunkRangeInput = { uploadId: 'u1', blob: INPUT, from: 1000, to: 1201, maxChunksInFlight: 100, progress: progress as ChunkRangeInput['progress'] };
    const run = await runOrchestration<ChunkRangeResult>(functionNames.ingestChunksOrchestrator, {
      input,
      answer: (call) => ({ ok: true, chunkNo: (call.input as CommitInput).chunkNo, rowsCommitted: 99, rowsRejected: 1 }),
    });
    expect(run.calls.map((call) => call.input)).toEqual(Array.from({ length: 201 }, (_, i) => ({ uploadId: 'u1', blob: INPUT, chunkNo: 1000 + i })));
    expect(run.output).toEqual({ chunksDone: 1201, rowsCommitted: 118_899, rowsRejected: 1201 });
    expect(run.statuses.at(-1)).toEqual({ phase: 'committing', chunksTotal: 1201, chunksDone: 1201, rowsCommitted: 118_899, rowsRejected: 1201 });
    expect(run.signals.map((signal) => signal.input)).toEqual([
      { chunksDone: 1100, rowsCommitted: 108_900, rowsRejected: 1100 },
      { chunksDone: 1200, rowsCommitted: 118_800, rowsRejected: 1200 },
      { chunksDone: 1201, rowsCommitted: 118_899, rowsRejected: 1201 },
    ]);
  });
});
