import { createRequire } from 'node:module';

/**
 * The JS SDK numbers tasks itself (`trackOpenTask`: `task.id = sequenceNumber++`) and matches completions
 * by that number; the extension's C# replay reproduces the same numbers. Rather than re-derive them from
 * the action list (which cannot place retry timers and re-attempts, whose ids the SDK takes as failures
 * arrive), the host records every id the SDK hands out during a replay, in order.
 */
export interface Allocation {
  id: number;
  /** The task given this id (activities, timers, sub-orchestrations, entity calls, locks, retry steps). */
  task?: SdkTask;
  /** A fire-and-forget action (signalEntity, release of a lock) and how many ids it consumed. */
  action?: SdkAction;
  count: number;
}

/** The SDK's action types (`actionType` in the actions it returns). */
export const ActionType = {
  CallActivity: 0, CallActivityWithRetry: 1, CallSubOrchestrator: 2, CallSubOrchestratorWithRetry: 3, ContinueAsNew: 4,
  CreateTimer: 5, WaitForExternalEvent: 6, CallEntity: 7, CallHttp: 8, SignalEntity: 9, WhenAny: 11, WhenAll: 12,
  LockEntities: 13, ReleaseEntities: 14,
} as const;

export interface SdkAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  operation?: string;
  fireAt?: Date | string;
  retryOptions?: RetryOptions;
  lockRequestId?: string;
  lockSet?: Array<{ name: string; key: string }>;
  [field: string]: unknown;
}

export interface RetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
}

export interface SdkTask {
  id: number | string | false;
  actionObj?: SdkAction;
  parent?: SdkTask & { children: SdkTask[]; retryOptions?: RetryOptions; innerTask?: SdkTask };
  children?: SdkTask[];
  lockResult?: { ownedLocks?: unknown[] };
}

interface Executor {
  sequenceNumber: number;
  willContinueAsNew: boolean;
  [ALLOCATIONS]?: Allocation[];
}

const ALLOCATIONS = Symbol.for('bulkflow.host.allocations');
const PATCHED = Symbol.for('bulkflow.host.patched');

type SdkModules = { executor: { prototype: Record<string | symbol, unknown> }; compound: new (...args: never[]) => unknown; retryable: new (...args: never[]) => unknown };
let retryableClass: (new (...args: never[]) => unknown) | undefined;

/** Records id allocations on the SDK copy the app resolves (idempotent). */
export function instrumentSdk(appEntry: string): void {
  const requireFromApp = createRequire(appEntry);
  let modules: SdkModules;
  try {
    modules = {
      executor: (requireFromApp('durable-functions/lib/src/orchestrations/TaskOrchestrationExecutor.js') as { TaskOrchestrationExecutor: SdkModules['executor'] }).TaskOrchestrationExecutor,
      compound: (requireFromApp('durable-functions/lib/src/task/CompoundTask.js') as { CompoundTask: SdkModules['compound'] }).CompoundTask,
      retryable: (requireFromApp('durable-functions/lib/src/task/RetryableTask.js') as { RetryableTask: SdkModules['retryable'] }).RetryableTask,
    };
  } catch {
    return; // the app does not use durable-functions
  }
  retryableClass = modules.retryable;
  const proto = modules.executor.prototype;
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const trackOpenTask = proto.trackOpenTask as (this: Executor, task: SdkTask) => void;
  const recordFireAndForgetAction = proto.recordFireAndForgetAction as (this: Executor, action: SdkAction, increment?: number) => void;
  const Compound = modules.compound;
  proto.trackOpenTask = function (this: Executor, task: SdkTask) {
    if (!(task instanceof Compound) && task.id === false) allocations(this).push({ id: this.sequenceNumber, task, count: 1 });
    trackOpenTask.call(this, task);
  };
  proto.recordFireAndForgetAction = function (this: Executor, action: SdkAction, increment = 1) {
    if (!this.willContinueAsNew) allocations(this).push({ id: this.sequenceNumber, action, count: increment });
    recordFireAndForgetAction.call(this, action, increment);
  };
}

function allocations(executor: Executor): Allocation[] {
  executor[ALLOCATIONS] ??= [];
  return executor[ALLOCATIONS];
}

/** The ids handed out during the replay that ran on this invocation context. */
export function allocationsOf(context: Record<string, unknown>): Allocation[] | undefined {
  const df = context.df as { taskOrchestratorExecutor?: Executor } | undefined;
  const executor = df?.taskOrchestratorExecutor;
  return executor ? (executor[ALLOCATIONS] ?? []) : undefined;
}

/** A retry step: `timer` after each failed attempt, then `attempt` (the re-scheduled call). */
export function retryStep(task: SdkTask): { kind: 'timer' | 'attempt'; failures: number; retry: NonNullable<SdkTask['parent']> } | undefined {
  const parent = task.parent;
  if (!parent || !retryableClass || !(parent instanceof retryableClass)) return undefined;
  const index = parent.children.indexOf(task);
  if (index <= 0) return undefined; // the first attempt is the inner task itself
  return { kind: index % 2 === 1 ? 'timer' : 'attempt', failures: Math.ceil(index / 2), retry: parent };
}

/** DTFx's RetryInterceptor delay after the n-th failed attempt: first interval times coefficient^(n-1), capped. */
export function retryDelayMs(options: RetryOptions, failures: number): number {
  const delay = options.firstRetryIntervalInMilliseconds * (options.backoffCoefficient ?? 1) ** (failures - 1);
  return options.maxRetryIntervalInMilliseconds && options.maxRetryIntervalInMilliseconds > 0 ? Math.min(delay, options.maxRetryIntervalInMilliseconds) : delay;
}

/** What one allocated id asks the extension for: a retry's backoff timer, a fire-and-forget action, or the action to schedule. */
export type ScheduledWork =
  | { kind: 'retryTimer'; delayMs: number }
  | { kind: 'fireAndForget'; action: SdkAction; count: number }
  | { kind: 'action'; action: SdkAction };

export function scheduledWork(allocation: Allocation): ScheduledWork {
  if (allocation.action) return { kind: 'fireAndForget', action: allocation.action, count: allocation.count };
  const task = allocation.task as SdkTask;
  const step = retryStep(task);
  if (step?.kind === 'timer') {
    const options = step.retry.actionObj?.retryOptions;
    if (!options) throw new Error('retry task without retry options');
    return { kind: 'retryTimer', delayMs: retryDelayMs(options, step.failures) };
  }
  // A re-attempt schedules the retried call again.
  const action = step ? (step.retry.innerTask?.actionObj ?? step.retry.actionObj) : task.actionObj;
  if (!action) throw new Error(`task ${allocation.id} has no action`);
  return { kind: 'action', action };
}

/** The activity input as the extension passes it on: JSON text (the SDK has already stringified string inputs). */
export function activityInputText(action: SdkAction): string {
  return typeof action.input === 'string' ? action.input : JSON.stringify(action.input ?? null);
}
