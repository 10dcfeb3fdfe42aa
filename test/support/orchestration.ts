import {
  activityFailed, entityRequest, EventType, ExecutionHistory, historyEvent, subOrchestrationEnded, timerEvents, type HistoryEvent,
} from '../../local/src/host/durable/history.js';
import { orchestrationTriggerText, replayOutcome } from '../../local/src/host/durable/replay.js';
import {
  ActionType, activityInputText, allocationsOf, instrumentSdk, scheduledWork, type Allocation, type RetryOptions, type SdkAction,
} from '../../local/src/host/durable/sequence.js';
import { findFunction, Invoker } from '../../local/src/host/invoke.js';
import { HostLogger } from '../../local/src/host/logger.js';
import { loadApp, type RegisteredFunction } from '../../local/src/host/registry.js';

/** An activity or sub-orchestration call, as the orchestrator's action describes it. */
export type Call =
  | { kind: 'activity'; name: string; input: unknown; retry?: RetryOptions }
  | { kind: 'subOrchestration'; name: string; input: unknown; instanceId?: string };

/** A task the orchestrator yielded: one of its actions (Task.all is one WhenAll action holding its tasks). */
export type Yielded = Call | { kind: 'all'; tasks: Yielded[] } | { kind: 'timer'; fireAt: string };

/** An entity signal as the SDK emits it: the target's scheduler id (`@name@key`, name lowercased), operation, input. */
export interface Signal {
  instanceId: string;
  operation: string;
  input: unknown;
}

/** What a run left behind, read from the SDK's actions and the history the driver wrote. */
export interface OrchestrationRun<T> {
  output: T;
  /** The orchestrator's tasks in the order it yielded them (its top-level actions other than signals). */
  yielded: Yielded[];
  signals: Signal[];
  /** The customStatus the SDK returned after each episode: what the status API shows between episodes. */
  statuses: unknown[];
  /** Every activity and sub-orchestration call, with the calls inside Task.all flattened in order. */
  calls: Call[];
  /** Every activity attempt and sub-orchestration the driver answered, in order: a retried call once per attempt. */
  executed: Call[];
  /** Delays of the orchestrator's durable timers, in order. */
  delays: number[];
  /** Backoff delays of the timers the extension creates after each failed attempt of a call with retry options. */
  retryDelays: number[];
}

/**
 * Answers one call as the activity (or sub-orchestration) would, or runs the real one (a promise is awaited: calls in
 * one episode run one after another); throwing or rejecting fails that attempt, as the activity throwing would.
 */
export type Answer = (call: Call) => unknown;

const START = new Date('2025-01-01T00:00:00Z');
const EXECUTION_ID = 'execution-1';
/** A guard against an orchestration that never ends under its script. */
const MAX_EPISODES = 1_000;

interface Due {
  at: number;
  event: HistoryEvent;
}

let host: Promise<{ invoker: Invoker; orchestrators: (name: string) => RegisteredFunction }> | undefined;

/** The compiled app (npm test builds it first), loaded and called as the local host's worker does. */
function appHost() {
  host ??= loadApp(process.cwd()).then((registry) => {
    instrumentSdk(registry.entry);
    return {
      invoker: new Invoker(registry, new HostLogger('none'), 10_000),
      orchestrators: (name: string) => {
        const fn = findFunction(registry, 'orchestrationTrigger', name);
        if (!fn) throw new Error(`the app registers no orchestrator "${name}"`);
        return fn;
      },
    };
  });
  return host;
}

/**
 * Runs the app's registered orchestrator through the real durable-functions replay, as the extension does: each
 * episode hands the SDK the whole history (OrchestratorStarted, then the new events) and reads back its actions.
 * Every newly scheduled id gets the history the extension would write: TaskScheduled answered at once by `answer`
 * (TaskCompleted, or TaskFailed when it throws, followed by the SDK's retry timers and re-attempts),
 * SubOrchestrationInstanceCreated/Completed, TimerCreated/TimerFired (the clock moves to the timer), EventSent for
 * signals. Everything crosses as JSON, as history stores it. Ids come from the SDK itself (recorded as the local host does).
 */
export async function runOrchestration<T>(name: string, options: { input?: unknown; instanceId?: string; answer: Answer }): Promise<OrchestrationRun<T>> {
  const { invoker, orchestrators } = await appHost();
  const fn = orchestrators(name);
  const instanceId = options.instanceId ?? 'ingest-test';
  const input = options.input === undefined ? null : JSON.stringify(options.input);
  const history = new ExecutionHistory(EXECUTION_ID);
  let now = START;
  let due: Due[] = [{
    at: now.getTime(),
    event: historyEvent(EventType.ExecutionStarted, {
      Name: name, Input: input, Version: '', OrchestrationInstance: { InstanceId: instanceId, ExecutionId: EXECUTION_ID }, ParentInstance: null,
    }, -1, now),
  }];
  const run = { statuses: [] as unknown[], executed: [] as Call[], delays: [] as number[], retryDelays: [] as number[] };

  /** The scheduling event for one newly allocated id; its answer (if any) is queued for a later episode. */
  const schedule = async (allocation: Allocation): Promise<HistoryEvent> => {
    const { id } = allocation;
    const work = scheduledWork(allocation);
    if (work.kind === 'fireAndForget') {
      if (work.action.actionType !== ActionType.SignalEntity) throw new Error(`the driver does not answer action type ${work.action.actionType}`);
      return entityRequest(work.action, { instanceId, executionId: EXECUTION_ID }, true, id, now).event;
    }
    if (work.kind === 'retryTimer') {
      run.retryDelays.push(work.delayMs);
      return timer(id, new Date(now.getTime() + work.delayMs));
    }
    const { action } = work;
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const call = toCall(action);
        const text = activityInputText(action);
        run.executed.push(call);
        queue(now, await answered(async () => historyEvent(EventType.TaskCompleted, { TaskScheduledId: id, Result: resultJson(await options.answer(call)) }),
          (error) => activityFailed(id, call.name, error)));
        return historyEvent(EventType.TaskScheduled, { Name: call.name, Version: '', Input: text }, id, now);
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const call = toCall(action);
        run.executed.push(call);
        queue(now, await answered(async () => subOrchestrationEnded(id, { result: resultJson(await options.answer(call)) }), (error) => {
          const reason = `Orchestrator function '${call.name}' failed: ${(error as Error).message}`;
          return subOrchestrationEnded(id, { reason, details: JSON.stringify({ message: (error as Error).message }) });
        }));
        return historyEvent(EventType.SubOrchestrationInstanceCreated, {
          Name: call.name, InstanceId: action.instanceId || `${instanceId}:${id}`, Input: action.input === undefined ? null : JSON.stringify(action.input), Version: '',
        }, id, now);
      }
      case ActionType.CreateTimer: {
        const fireAt = new Date(action.fireAt as string);
        run.delays.push(fireAt.getTime() - now.getTime());
        return timer(id, fireAt);
      }
      default:
        throw new Error(`the driver does not answer action type ${action.actionType}`);
    }
  };
  const timer = (id: number, fireAt: Date): HistoryEvent => {
    const { created, fired } = timerEvents(id, fireAt, now);
    due.push({ at: fireAt.getTime(), event: fired });
    return created;
  };
  const queue = (at: Date, event: HistoryEvent) => due.push({ at: at.getTime(), event: { ...event, Timestamp: at.toISOString() } });

  for (let episode = 0; episode < MAX_EPISODES; episode++) {
    if (due.length === 0) throw new Error(`${name} waits for something the driver does not answer`);
    // The next episode runs when its first event is due; everything due by then arrives in it, in order.
    now = new Date(Math.max(now.getTime(), Math.min(...due.map((d) => d.at))));
    const arriving = due.filter((d) => d.at <= now.getTime()).map((d) => d.event);
    due = due.filter((d) => d.at > now.getTime());
    const newEvents = [historyEvent(EventType.OrchestratorStarted, {}, -1, now), ...arriving];
    const trigger = orchestrationTriggerText({
      history: [...history.events.map((event) => JSON.stringify({ ...event, IsPlayed: true })), ...newEvents.map((event) => JSON.stringify(event))],
      input,
      instanceId,
      parentInstanceId: null,
    });
    const result = await invoker.invoke(fn, { trigger: { string: trigger } });
    const { state, failure } = replayOutcome(result);
    if (failure !== undefined || !state) throw new Error(`${name} failed: ${failure ?? 'no orchestrator state'}`);
    const scheduled: HistoryEvent[] = [];
    for (const allocation of (allocationsOf(result.context) ?? []).filter((allocation) => !history.scheduled.has(allocation.id))) {
      scheduled.push(await schedule(allocation));
    }
    history.append([...newEvents, ...scheduled, historyEvent(EventType.OrchestratorCompleted, {}, -1, now)]);
    if (state.customStatus !== undefined) run.statuses.push(state.customStatus);
    if (!state.isDone) continue;
    if (state.actions.flat().some((action) => action.actionType === ActionType.ContinueAsNew)) throw new Error('the driver does not continue as new');
    const actions = state.actions[0] ?? [];
    const yielded = actions.filter((action) => action.actionType !== ActionType.SignalEntity).map(toYielded);
    return {
      ...run,
      output: state.output as T,
      yielded,
      calls: yielded.flatMap(callsOf),
      signals: leaves(actions).filter((action) => action.actionType === ActionType.SignalEntity)
        .map(({ instanceId: target, operation, input: signalled }) => ({ instanceId: target as string, operation: operation as string, input: signalled })),
    };
  }
  throw new Error(`${name} did not complete in ${MAX_EPISODES} episodes`);
}

/** The extension stores a result as JSON text; `undefined` becomes null. */
function resultJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** The completion event, or the failure event when the answer throws. */
async function answered(complete: () => Promise<HistoryEvent>, fail: (error: unknown) => HistoryEvent): Promise<HistoryEvent> {
  try {
    return await complete();
  } catch (error) {
    return fail(error);
  }
}

function toCall(action: SdkAction): Call {
  const name = action.functionName as string;
  if (action.actionType === ActionType.CallActivity || action.actionType === ActionType.CallActivityWithRetry) {
    // What the activity receives: the input text the extension passes on, parsed.
    const call: Call = { kind: 'activity', name, input: JSON.parse(activityInputText(action)) };
    if (action.retryOptions) call.retry = JSON.parse(JSON.stringify(action.retryOptions)) as RetryOptions;
    return call;
  }
  return { kind: 'subOrchestration', name, input: action.input, ...(action.instanceId ? { instanceId: action.instanceId } : {}) };
}

function toYielded(action: SdkAction): Yielded {
  switch (action.actionType) {
    case ActionType.WhenAll:
      return { kind: 'all', tasks: (action.compoundActions as SdkAction[]).map(toYielded) };
    case ActionType.CreateTimer:
      return { kind: 'timer', fireAt: action.fireAt as string };
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return toCall(action);
    default:
      throw new Error(`unexpected action type ${action.actionType}`);
  }
}

function callsOf(task: Yielded): Call[] {
  if (task.kind === 'all') return task.tasks.flatMap(callsOf);
  return task.kind === 'timer' ? [] : [task];
}

function leaves(actions: SdkAction[]): SdkAction[] {
  return actions.flatMap((action) => (Array.isArray(action.compoundActions) ? leaves(action.compoundActions as SdkAction[]) : [action]));
}
