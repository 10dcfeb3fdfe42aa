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
