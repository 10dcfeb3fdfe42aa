/**
 * An orchestration's history as the operator console shows it: one row per step (register, plan, a wave of chunk
 * commits, a sub-orchestration, activation, publish, delete) with its time span, attempts and failure reasons. Input:
 * the `historyEvents` of the Durable Functions status API (showHistory=true), the same on Azure and locally.
 */
export interface HistoryEvent {
  readonly EventType: string;
  readonly Timestamp?: string;
  readonly FunctionName?: string;
  readonly Name?: string;
  readonly ScheduledTime?: string;
  readonly Reason?: string;
  /** A name on Azure, DTFx's number (3: Failed) in some hosts. */
  readonly OrchestrationStatus?: string | number;
  readonly FailureDetails?: { readonly ErrorMessage?: string } | null;
  readonly Result?: unknown;
}

export interface TimelineStep {
  /** The activity or sub-orchestration, as registered (src/functionNames.ts). */
  readonly name: string;
  readonly kind: 'activity' | 'subOrchestration';
  /** Calls that succeeded: 1, or the chunk commits of one wave. */
  readonly completed: number;
  /** Failed attempts (retried ones included). */
  readonly failedAttempts: number;
  readonly outcome: 'completed' | 'failed';
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  /** Distinct failure reasons, first three. */
  readonly reasons: readonly string[];
}

export interface Timeline {
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly steps: TimelineStep[];
  /** Why the orchestration itself failed or was terminated, when it did. */
  readonly failure: string | null;
  /**
   * Whether a rewind can replay this history: it failed on failed calls and did nothing after them. Rewind (Azure
   * Storage and the local host alike) removes only the failures; a retry timer or a call made after a failure stays
   * in the history, and the replay then stops as non-deterministic (Azure/azure-functions-durable-extension#617, #444).
   */
  readonly rewindable: boolean;
}

const FAILURES = new Set(['TaskFailed', 'SubOrchestrationInstanceFailed']);
/** Events that may follow the first failure in a rewindable history (concurrent failures, the end, rewind notes). */
const AFTER_FAILURE = new Set([...FAILURES, 'ExecutionCompleted', 'GenericEvent']);

function isRewindable(events: readonly HistoryEvent[]): boolean {
  const first = events.findIndex((event) => FAILURES.has(event.EventType));
  return first >= 0 && events.slice(first).every((event) => AFTER_FAILURE.has(event.EventType));
}

const DONE: Record<string, { kind: TimelineStep['kind']; failed: boolean }> = {
  TaskCompleted: { kind: 'activity', failed: false },
  TaskFailed: { kind: 'activity', failed: true },
  SubOrchestrationInstanceCompleted: { kind: 'subOrchestration', failed: false },
  SubOrchestrationInstanceFailed: { kind: 'subOrchestration', failed: true },
};

/**
 * Folds the history into steps. Consecutive results of the same function are one step (a wave of commits, or a
 * call and its retries: the retry timer between them is not a step), so a 1,000-chunk upload stays readable.
 */
export function orchestrationTimeline(events: readonly HistoryEvent[]): Timeline {
  const steps: Array<{ -readonly [K in keyof TimelineStep]: TimelineStep[K] } & { reasons: string[] }> = [];
  let failure: string | null = null;
  let startedAt: string | null = null;
  let endedAt: string | null = null;
  for (const event of events) {
    if (event.EventType === 'ExecutionStarted') startedAt ??= event.Timestamp ?? null;
    if (event.EventType === 'ExecutionCompleted' || event.EventType === 'ExecutionTerminated') {
      endedAt = event.Timestamp ?? null;
      if (event.EventType === 'ExecutionTerminated') failure = `terminated${typeof event.Reason === 'string' && event.Reason ? `: ${event.Reason}` : ''}`;
      else if (event.OrchestrationStatus === 'Failed' || event.OrchestrationStatus === 3) failure = event.FailureDetails?.ErrorMessage ?? (typeof event.Result === 'string' ? event.Result : 'failed');
    }
    const done = DONE[event.EventType];
    const name = event.FunctionName;
    if (!done || !name) continue;
    const start = event.ScheduledTime ?? event.Timestamp ?? null;
    const end = event.Timestamp ?? null;
    const last = steps[steps.length - 1];
    const step = last && last.name === name && last.kind === done.kind ? last : undefined;
    if (step) {
      if (start && (!step.startedAt || start < step.startedAt)) step.startedAt = start;
      if (end && (!step.endedAt || end > step.endedAt)) step.endedAt = end;
    } else {
      steps.push({ name, kind: done.kind, completed: 0, failedAttempts: 0, outcome: 'completed', startedAt: start, endedAt: end, durationMs: null, reasons: [] });
    }
    const current = steps[steps.length - 1]!;
    current.outcome = done.failed ? 'failed' : 'completed';
    if (!done.failed) current.completed += 1;
    if (done.failed) {
      current.failedAttempts += 1;
      const reason = event.Reason ?? 'failed';
      if (!current.reasons.includes(reason) && current.reasons.length < 3) current.reasons.push(reason);
    }
  }
  for (const step of steps) step.durationMs = step.startedAt && step.endedAt ? Math.max(0, Date.parse(step.endedAt) - Date.parse(step.startedAt)) : null;
  return { startedAt, endedAt, steps, failure, rewindable: isRewindable(events) };
}
