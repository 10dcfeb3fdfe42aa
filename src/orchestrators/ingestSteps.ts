import type { OrchestrationContext } from 'durable-functions';
import { CHUNKS_PER_SUB_ORCHESTRATION } from '../engine/index.js';
import {
  CHUNKS_MISSING, type ActivateResult, type ChunkFailure, type ChunkRangeResult, type CommitResult, type IngestInput, type IngestOutput,
  type PlanResult, type RegisterResult,
} from '../ingestContracts.js';
import { commitChunkWaves } from './commitChunkWaves.js';
import { Dispatcher, failureReason, type Step } from './dispatcher.js';
import { ProgressReporter } from './progressReporter.js';

/** A registered upload and the blob version the orchestration was started for (what planning and commits read). */
type Upload = RegisterResult & { blob: IngestInput };

/** Activations of one upload that may find chunks missing (each time committing them again) before it fails. */
const MAX_ACTIVATION_ROUNDS = 3;

/** A plan, and the result of committing its chunk 0 alongside it. */
type Planned = Extract<PlanResult, { ok: true }> & { first: CommitResult };
type PlanFailed = Extract<PlanResult, { ok: false }>;

/**
 * The steps of one upload. Each step reports its phase through the one progress reporter and calls out
 * through the one dispatcher; the orchestrator composes them with `yield*`.
 */
export class IngestSteps {
  private readonly calls: Dispatcher;
  private readonly progress: ProgressReporter;

  constructor(context: OrchestrationContext) {
    this.calls = new Dispatcher(context);
    this.progress = new ProgressReporter(context, ProgressReporter.initial());
  }

  /** Idempotent by blob identity: a repeated start finds the upload it registered before. */
  *register(input: IngestInput): Step<Upload> {
    const registered = yield* this.calls.call('registerUpload', input);
    this.progress.registered(registered.uploadId);
    return { ...registered, blob: input };
  }

  /** The upload had already ended (e.g. a start after its history was purged): nothing to do, nothing to publish. */
  alreadyFinished(upload: RegisterResult): IngestOutput {
    this.progress.enter('done');
    return { uploadId: upload.uploadId, status: upload.status, rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0 };
  }

  /**
   * Plans while committing chunk 0, which every plannable file has: its rows load while the rest of the file is
   * scanned, and a user watching sees rows sooner. A bad or vanished file comes back as a failed plan (the
   * activity has failed the upload, and the rows of chunk 0 are never activated); so do retries run out.
   * More chunks alongside did not pay (measured with first waves of up to 8, bounded by the blob's size): the scan and
   * those commits share the host's one thread, so the plan ends later and the rest waits for it. National 0.25
   * re-upload (one run each): planned at 3.2 s instead of 1.1 s, matched at 13.3 s instead of 12.1 s; 1M engine bench:
   * plan and commits 2.74 s against 2.79 s, within noise.
   */
  *plan(upload: Upload): Step<Planned | PlanFailed> {
    const { uploadId, blob } = upload;
    this.progress.enter('planning');
    try {
      const [plan, first] = yield* this.calls.callBoth('planUpload', { uploadId, blob }, 'commitChunk', { uploadId, blob, chunkNo: 0 });
      return plan.ok ? { ...plan, first } : plan;
    } catch (error) {
      // Transient faults outlasted the retries: record why, keep the active upload.
      const message = `planning failed: ${failureReason(error)}`;
      yield* this.calls.call('failUpload', { uploadId, code: 'plan_failed', message });
      return { ok: false, code: 'plan_failed', message };
    }
  }

  planFailed(upload: RegisterResult, plan: PlanFailed): IngestOutput {
    return { uploadId: upload.uploadId, status: 'failed', rowsCommitted: 0, rowsRejected: 0, chunksTotal: 0, reason: plan.message };
  }

  /**
   * The chunks after chunk 0 (committed alongside the plan). Small uploads commit in this orchestration; large ones
   * in sub-orchestrations of at most 500 chunks, one after another.
   */
  *commitChunks(upload: Upload, plan: Planned): Step<ChunkRangeResult> {
    this.progress.planned(plan);
    const range = { uploadId: upload.uploadId, blob: upload.blob, from: 1, to: plan.chunksTotal, maxChunksInFlight: upload.maxChunksInFlight };
    if (plan.chunksTotal <= CHUNKS_PER_SUB_ORCHESTRATION) return yield* commitChunkWaves(this.calls, this.progress, range, [plan.first]);
    const head = yield* commitChunkWaves(this.calls, this.progress, { ...range, to: 1 }, [plan.first]);
    if (head.failure) return head;
    for (let from = 1; from < plan.chunksTotal; from += CHUNKS_PER_SUB_ORCHESTRATION) {
      const to = Math.min(plan.chunksTotal, from + CHUNKS_PER_SUB_ORCHESTRATION);
      const block = yield* this.calls.commitRange({ ...range, from, to, progress: this.progress.snapshot });
      this.progress.reached(block);
      if (block.failure) return block;
    }
    return this.progress.counts;
  }

  /** Activate when every chunk is in; otherwise fail the upload with the chunk's reason. The active upload changes only on success. */
  *settle(upload: Upload, plan: Planned, committed: ChunkRangeResult): Step<IngestOutput> {
    const { uploadId } = upload;
    this.progress.enter('activating');
    const outcome = committed.failure ? yield* this.failChunk(uploadId, committed.failure) : yield* this.activate(upload);
    return {
      uploadId,
      status: outcome.status,
      rowsCommitted: outcome.rowsCommitted,
      rowsRejected: outcome.rowsRejected,
      chunksTotal: plan.chunksTotal,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    };
  }

  /**
   * Activates. A database back with a prefix of its WAL (a failover to a replica that was behind) can have lost the
   * last chunk commits after they were reported, each whole (rows and ledger row): activation finds them missing, and
   * they are committed again before it runs again. A chunk still missing after MAX_ACTIVATION_ROUNDS activations fails the upload.
   */
  private *activate(upload: Upload): Step<ActivateResult> {
    const { uploadId, blob, maxChunksInFlight } = upload;
    for (let round = 1; ; round++) {
      const result = yield* this.calls.call('activateUpload', { uploadId });
      if (result.status !== CHUNKS_MISSING) return result;
      const { missingChunks } = result;
      if (round === MAX_ACTIVATION_ROUNDS) {
        const listed = `${missingChunks.slice(0, 5).join(', ')}${missingChunks.length > 5 ? ', ...' : ''}`;
        return yield* this.calls.call('failUpload', {
          uploadId, code: 'chunks_lost', message: `${missingChunks.length} chunk(s) (${listed}) were missing at each of ${round} activations: their commits were lost`,
        });
      }
      this.progress.reached(result.committed);
      this.progress.enter('committing');
      for (const [from, to] of ranges(missingChunks)) {
        const again = yield* commitChunkWaves(this.calls, this.progress, { uploadId, blob, from, to, maxChunksInFlight });
        if (again.failure) return yield* this.failChunk(uploadId, again.failure);
      }
      this.progress.enter('activating');
    }
  }

  private *failChunk(uploadId: string, failure: ChunkFailure): Step<ActivateResult> {
    return yield* this.calls.call('failUpload', { uploadId, code: failure.code, message: `chunk ${failure.chunkNo}: ${failure.message}` });
  }

  /**
   * Sends the completion or failure event, then deletes the raw file (personal data, no longer needed). Neither
   * changes the outcome: undelivered events wait in the outbox for the sweeper, an undeleted file for housekeeping.
   */
  *publish(output: IngestOutput): Step<IngestOutput> {
    const { uploadId } = output;
    this.progress.finished(output);
    try {
      yield* this.calls.call('publishOutbox', { uploadId });
    } catch {
      // the activity keeps Event Hubs outages to itself; this is the database gone too: the sweeper sends it
    }
    try {
      yield* this.calls.call('deleteUploadBlob', { uploadId });
    } catch {
      // housekeeping deletes it on its next run
    }
    this.progress.enter('done');
    return output;
  }
}

/** The runs of consecutive numbers in an ascending list, as [from, to) ranges. */
function ranges(numbers: number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const n of numbers) {
    const last = runs[runs.length - 1];
    if (last && last[1] === n) last[1] = n + 1;
    else runs.push([n, n + 1]);
  }
  return runs;
}
