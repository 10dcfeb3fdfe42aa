import type { OrchestrationContext, RetryOptions, Task } from 'durable-functions';

/** What an orchestrator yielded, as the driver saw it. */
export type Yielded =
  | { kind: 'activity'; name: string; input: unknown; retry?: RetryOptions }
  | { kind: 'subOrchestration'; name: string; input: unknown; instanceId?: string }
  | { kind: 'all'; tasks: Yielded[] }
  | { kind: 'timer'; delayMs: number };

export type Call = Extract<Yielded, { kind: 'activity' | 'subOrchestration' }>;

export interface Signal {
  entity: string;
  key: string;
  op: string;
  input: unknown;
}

/** Everything a run left behind: the tasks in the order they were yielded, entity signals and customStatus writes. */
export interface OrchestrationRun<T> {
  output: T;
  yielded: Yielded[];
  signals: Signal[];
  statuses: unknown[];
  /** Every activity and sub-orchestration call, with the calls inside Task.all flattened in order. */
  calls: Call[];
  /** Delays of the durable timers, in order. */
  delays: number[];
}

/** Answers one call as the activity (or sub-orchestration) would; throwing fails the task, as a TaskFailed would. */
export type Answer = (call: Call) => unknown;

/** JSON round trip: what crosses the durable boundary is stored in history as JSON. */
const stored = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/**
 * Drives an orchestrator generator without a host: its context records what it schedules, signals and
 * reports, and each yielded task is answered at once by `answer` (timers fire at once and move the
 * orchestration's clock on). Orchestration logic only: the durable replay itself is exercised end to end.
 */
export function runOrchestration<T>(
  orchestrator: (context: OrchestrationContext) => Generator<Task, T, unknown>,
  options: { input?: unknown; instanceId?: string; answer: Answer },
): OrchestrationRun<T> {
  let now = new Date('2025-01-01T00:00:00Z');
  const run: Omit<OrchestrationRun<T>, 'output'> = { yielded: [], signals: [], statuses: [], calls: [], delays: [] };
  const df = {
    instanceId: options.instanceId ?? 'ingest-test',
    get currentUtcDateTime() {
      return now;
    },
    getInput: () => stored(options.input),
    callActivity: (name: string, input: unknown): Yielded => ({ kind: 'activity', name, input: stored(input) }),
    callActivityWithRetry: (name: string, retry: RetryOptions, input: unknown): Yielded => ({ kind: 'activity', name, input: stored(input), retry }),
    callSubOrchestrator: (name: string, input: unknown, instanceId?: string): Yielded => ({ kind: 'subOrchestration', name, input: stored(input), instanceId }),
    createTimer: (fireAt: Date): Yielded => ({ kind: 'timer', delayMs: fireAt.getTime() - now.getTime() }),
    Task: { all: (tasks: Yielded[]): Yielded => ({ kind: 'all', tasks }) },
    signalEntity: (entity: { name: string; key: string }, op: string, input: unknown) => {
      run.signals.push({ entity: entity.name, key: entity.key, op, input: stored(input) });
    },
    setCustomStatus: (status: unknown) => {
      run.statuses.push(stored(status));
    },
  };

  const resolve = (task: Yielded): unknown => {
    switch (task.kind) {
      case 'all':
        return task.tasks.map(resolve);
      case 'timer':
        run.delays.push(task.delayMs);
        now = new Date(now.getTime() + task.delayMs);
        return undefined;
      default:
        run.calls.push(task);
        return stored(options.answer(task));
    }
  };

  const generator = orchestrator({ df } as unknown as OrchestrationContext);
  let step = generator.next();
  while (!step.done) {
    const task = step.value as unknown as Yielded;
    run.yielded.push(task);
    let result: unknown;
    try {
      result = resolve(task);
    } catch (error) {
      step = generator.throw(error);
      continue;
    }
    step = generator.next(result);
  }
  return { output: step.value, ...run };
}
