import type { InvocationInput, InvocationResult } from './invoke.js';
import type { HostLogger } from './logger.js';
import type { RegisteredFunction } from './registry.js';

export interface DispatcherContext {
  /** Invokes the function through the host's one invocation path (ProgrammingModel). */
  invoke(input: InvocationInput): Promise<InvocationResult>;
  logger: HostLogger;
  env: NodeJS.ProcessEnv;
}

export interface RunningDispatcher {
  /** Stops consuming and waits for in-flight invocations. */
  stop(): Promise<void>;
}

/**
 * Starts consuming events for one function (e.g. `eventHubTrigger` from the local Event Hubs endpoint).
 * Binding properties arrive with `%SETTING%` expressions already resolved.
 */
export type TriggerDispatcher = (fn: RegisteredFunction, context: DispatcherContext) => Promise<RunningDispatcher>;

const dispatchers = new Map<string, TriggerDispatcher>();

/** Plug-in point for trigger types the host does not serve itself, keyed by binding type (case-insensitive). */
export function registerTriggerDispatcher(bindingType: string, dispatcher: TriggerDispatcher): void {
  dispatchers.set(bindingType.toLowerCase(), dispatcher);
}

export function triggerDispatcher(bindingType: string): TriggerDispatcher | undefined {
  return dispatchers.get(bindingType.toLowerCase());
}
