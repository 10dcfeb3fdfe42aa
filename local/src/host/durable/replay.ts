import { errorText, type InvocationResult } from '../invoke.js';
import type { SdkAction } from './sequence.js';

/** What the SDK's orchestrator wrapper returns from one replay. */
export interface OrchestratorState {
  isDone: boolean;
  actions: SdkAction[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

export interface OrchestrationTrigger {
  /** The execution's history events, each as JSON text (earlier episodes' with IsPlayed set). */
  history: string[];
  /** The orchestration input as JSON text, or null. */
  input: string | null;
  instanceId: string;
  parentInstanceId: string | null;
}

/** The orchestration trigger as the extension's `OrchestrationContextToString` writes it. */
export function orchestrationTriggerText(trigger: OrchestrationTrigger): string {
  return `{"history":[${trigger.history.join(',')}],"input":${trigger.input ?? 'null'},"instanceId":${JSON.stringify(trigger.instanceId)},` +
    `"isReplaying":false,"parentInstanceId":${JSON.stringify(trigger.parentInstanceId)},"upperSchemaVersion":1,` +
    // V4 (3) only adds lock(); advertising it enables critical sections.
    `"upperSchemaVersionNew":3,"longRunningTimerIntervalDuration":"3.00:00:00","maximumShortTimerDuration":"6.00:00:00",` +
    `"defaultHttpAsyncRequestSleepTimeMillseconds":30000}`;
}

const OUT_OF_PROC_MARKER = '\n\n$OutOfProcData$:';

/**
 * Reads one replay's outcome as the extension does: the returned state, or, when the orchestrator threw, the state
 * the SDK appended to its error after `$OutOfProcData$` (its actions still count) and the failure.
 */
export function replayOutcome(result: InvocationResult): { state?: OrchestratorState; failure?: string } {
  if (result.error === undefined) return { state: (JSON.parse(result.returnValue?.json ?? 'null') as OrchestratorState | null) ?? undefined };
  const message = errorText(result.error);
  const at = message.indexOf(OUT_OF_PROC_MARKER);
  if (at < 0) return { failure: message };
  const state = JSON.parse(message.slice(at + OUT_OF_PROC_MARKER.length)) as OrchestratorState;
  return { state, failure: state.error ?? 'unknown error' };
}
