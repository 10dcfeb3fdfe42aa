import { randomUUID } from 'node:crypto';
import type { SdkAction } from './sequence.js';

/** DTFx history event types (the extension sends `EventType` as these ints). */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

export function historyEvent(type: number, fields: Record<string, unknown> = {}, eventId = -1, at = new Date()): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: at.toISOString(), ...fields };
}

/** TaskFailed as the extension writes it for an activity that threw: the SDK raises `Error(Reason + " \n " + Details)`. */
export function activityFailed(taskId: number, activity: string, error: unknown): HistoryEvent {
  const message = error instanceof Error ? error.message : String(error);
  const details = JSON.stringify({ ClassName: error instanceof Error ? error.name : 'Error', Message: message, StackTraceString: error instanceof Error ? (error.stack ?? null) : null });
  return historyEvent(EventType.TaskFailed, { TaskScheduledId: taskId, Reason: `Activity function '${activity}' failed: ${message}`, Details: details });
}

/** How a sub-orchestration's end reaches its parent: its output as JSON text, or why it failed. */
export function subOrchestrationEnded(taskId: number, outcome: { result: string } | { reason: string; details: string }): HistoryEvent {
  return 'result' in outcome
    ? historyEvent(EventType.SubOrchestrationInstanceCompleted, { TaskScheduledId: taskId, Result: outcome.result })
    : historyEvent(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: taskId, Reason: outcome.reason, Details: outcome.details });
}

/** A durable timer: TimerCreated in this episode's history, TimerFired delivered at `fireAt`. */
export function timerEvents(id: number, fireAt: Date, now: Date): { created: HistoryEvent; fired: HistoryEvent } {
  const fire = fireAt.toISOString();
  return {
    created: historyEvent(EventType.TimerCreated, { FireAt: fire }, id, now),
    fired: historyEvent(EventType.TimerFired, { TimerId: id, FireAt: fire }, -1, fireAt),
  };
}

/** EventSent carrying the extension's RequestMessage to an entity; the SDK re-keys entity calls to the message's `id`. */
export function entityRequest(
  action: SdkAction, parent: { instanceId: string; executionId: string }, signal: boolean, id: number, now: Date,
): { target: string; message: Record<string, unknown>; event: HistoryEvent } {
  const target = action.instanceId ?? '';
  const message: Record<string, unknown> = { op: action.operation, id: randomUUID(), parent: parent.instanceId, parentExecution: parent.executionId };
  if (signal) message.signal = true;
  if (action.input !== undefined && action.input !== null) message.input = JSON.stringify(action.input);
  return { target, message, event: historyEvent(EventType.EventSent, { InstanceId: target, Name: 'op', Input: JSON.stringify(message) }, id, now) };
}

/** Events that schedule work carry the task's sequence number as EventId. */
export const SCHEDULING_TYPES: ReadonlySet<number> = new Set([
  EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated, EventType.TimerCreated, EventType.EventSent,
]);

/** The id a completion event answers, or undefined for events not keyed by a task id. */
export function completedTaskId(event: HistoryEvent): number | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return event.TaskScheduledId as number;
    case EventType.TimerFired:
      return event.TimerId as number;
    default:
      return undefined;
  }
}

export const EVENT_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(EventType).map(([name, value]) => [value, name]));

/** In-memory view of one execution's history: the events plus indexes the episode loop needs. */
export class ExecutionHistory {
  readonly scheduled = new Map<number, HistoryEvent>();
  readonly completed = new Set<number>();

  constructor(readonly executionId: string, readonly events: HistoryEvent[] = []) {
    for (const event of events) this.index(event);
  }

  append(events: HistoryEvent[]): void {
    for (const event of events) {
      this.events.push(event);
      this.index(event);
    }
  }

  /**
   * The first scheduling event the latest replay did not reproduce (DTFx's NonDeterministicOrchestrationException
   * when an event in history has no matching action; e.g. a retry timer left after a rewind), as its message.
   */
  unreplayed(allocated: ReadonlySet<number>): string | undefined {
    for (const [id, event] of this.scheduled) {
      if (allocated.has(id)) continue;
      const name = EVENT_NAMES[event.EventType] ?? String(event.EventType);
      return `Non-Deterministic workflow detected: ${name}Event: ${id} ${name}${event.EventType === EventType.TaskScheduled ? ` ${String(event.Name)}` : ''}`;
    }
    return undefined;
  }

  private index(event: HistoryEvent): void {
    if (SCHEDULING_TYPES.has(event.EventType)) this.scheduled.set(event.EventId, event);
    const done = completedTaskId(event);
    if (done !== undefined) this.completed.add(done);
  }
}

/** The extension's customStatus limit: 16 KB of UTF-16 (`Encoding.Unicode.GetByteCount(json) / 1024 > 16`). */
export function customStatusError(json: string): string | undefined {
  const kb = Math.floor((json.length * 2) / 1024);
  return kb > 16 ? `The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is ${kb} KB.` : undefined;
}

export const MAX_ORCHESTRATION_ACTIONS = 100_000;
export const maxActionsMessage = `Maximum amount of orchestration actions (${MAX_ORCHESTRATION_ACTIONS}) has been reached. This value can be configured in host.json file as MaxOrchestrationActions.`;
