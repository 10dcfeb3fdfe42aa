import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { functionNames } from '../functionNames.js';
import type { ActivityInput, ActivityName, ActivityOutput, ChunkRangeInput, ChunkRangeResult } from '../ingestContracts.js';

/** An orchestration step: yields durable tasks, gets their results back, returns T. Compose steps with `yield*`. */
export type Step<T> = Generator<Task, T, unknown>;

/** Database or storage hiccups in steps an upload cannot fail on (deleting the raw file, the upload-session steps). */
const STEP_RETRY = Object.assign(new df.RetryOptions(2_000, 5), { backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 30_000 });
/** commitChunk returns result objects (the orchestrator retries those); this only covers the activity crashing or timing out. */
const CRASH_RETRY = Object.assign(new df.RetryOptions(5_000, 3), { backoffCoefficient: 2 });

/**
 * How the runtime retries an activity that throws. The steps an upload can fail on (register, plan, activate, fail)
 * retry transient faults inside the activity (activities/transientRetry.ts): runtime retries would leave failed
 * attempts and timers in the history that a rewind cannot replay past. publishOutbox is not retried: the sweeper
 * delivers what it leaves. deleteUploadBlob runs after the outcome is settled, so its retries never block a rewind.
 */
const RETRY: Record<ActivityName, df.RetryOptions | undefined> = {
  registerUpload: undefined,
  planUpload: undefined,
  commitChunk: CRASH_RETRY,
  activateUpload: undefined,
  failUpload: undefined,
  publishOutbox: undefined,
  deleteUploadBlob: STEP_RETRY,
  verifyUploadSession: STEP_RETRY,
  reopenUploadSession: STEP_RETRY,
};

/**
 * Why an activity failed, without the serialized exception (and its stack) the extension records beside the
 * reason: the SDK raises a failed task as `Error(Reason + " \n " + Details)`.
 */
export function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split(' \n ')[0] as string;
}

/**
 * The one place orchestrators call out: activities (typed by their contract, with their retry options), the
 * chunk sub-orchestration and durable timers. Results come back from the replay as stored in history, so the
 * casts to the contract's output type live here and nowhere else.
 */
export class Dispatcher {
  constructor(private readonly context: OrchestrationContext) {}

  *call<N extends ActivityName>(name: N, input: ActivityInput<N>): Step<ActivityOutput<N>> {
    return (yield this.activity(name, input)) as ActivityOutput<N>;
  }

  /** Calls one activity per input, all at once; results in input order. */
  *callAll<N extends ActivityName>(name: N, inputs: Array<ActivityInput<N>>): Step<Array<ActivityOutput<N>>> {
    return (yield this.context.df.Task.all(inputs.map((input) => this.activity(name, input)))) as Array<ActivityOutput<N>>;
  }

  /** Two different activities at once; both results, in order. */
  *callBoth<N extends ActivityName, M extends ActivityName>(
    first: N, firstInput: ActivityInput<N>, second: M, secondInput: ActivityInput<M>,
  ): Step<[ActivityOutput<N>, ActivityOutput<M>]> {
    return (yield this.context.df.Task.all([this.activity(first, firstInput), this.activity(second, secondInput)])) as [ActivityOutput<N>, ActivityOutput<M>];
  }

  /** Commits a range of chunks in a sub-orchestration whose id is derived from this instance's, so a replay finds it. */
  *commitRange(range: ChunkRangeInput): Step<ChunkRangeResult> {
    const instanceId = `${this.context.df.instanceId}:chunks-${range.from}`;
    return (yield this.context.df.callSubOrchestrator(functionNames.ingestChunksOrchestrator, range, instanceId)) as ChunkRangeResult;
  }

  /** A durable timer: the orchestration's clock, never the machine's. */
  *wait(ms: number): Step<void> {
    yield this.context.df.createTimer(new Date(this.context.df.currentUtcDateTime.getTime() + ms));
  }

  private activity<N extends ActivityName>(name: N, input: ActivityInput<N>): Task {
    const retry = RETRY[name];
    const registered = functionNames[name];
    return retry ? this.context.df.callActivityWithRetry(registered, retry, input) : this.context.df.callActivity(registered, input);
  }
}
