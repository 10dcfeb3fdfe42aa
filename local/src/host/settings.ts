import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** The parts of host.json this host honours. */
export interface HostSettings {
  /** Extension defaults: 10 x processors for both concurrency limits. */
  hubName: string;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  /** Milliseconds; activities and HTTP functions that run longer are failed, like the Functions host. */
  functionTimeoutMs: number;
  routePrefix: string;
  logLevel: LogLevelName;
}

export type LogLevelName = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

const LEVELS: Record<string, LogLevelName> = {
  trace: 'trace', debug: 'debug', information: 'information', warning: 'warning',
  error: 'error', critical: 'critical', none: 'none',
};

/** Replaces `%NAME%` binding expressions from the environment, as the Functions host does for app settings. */
export function resolveSettingExpressions<T>(value: T, env: NodeJS.ProcessEnv): T {
  if (typeof value === 'string') {
    return value.replace(/%([^%\s]+)%/g, (whole, name: string) => {
      const found = env[name];
      if (found === undefined) throw new Error(`binding expression ${whole} refers to app setting "${name}", which is not set`);
      return found;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item: unknown) => resolveSettingExpressions(item, env)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveSettingExpressions(item, env)]),
    ) as T;
  }
  return value;
}

/**
 * Throws for a binding other than the trigger whose `connection` names an app setting that is not set, as the
 * Functions host refuses to index such a function (an output binding would otherwise fail at its first write, or
 * its data be dropped). A connection is set as the setting itself, as `AzureWebJobs<name>`, or as
 * identity-based `<name>__*` settings.
 */
export function checkBindingConnections(bindings: Record<string, { type: string; connection?: unknown }>, triggerName: string, env: NodeJS.ProcessEnv): void {
  for (const [name, binding] of Object.entries(bindings)) {
    if (name === triggerName || typeof binding.connection !== 'string' || binding.connection === '') continue;
    const setting = binding.connection;
    const set = env[setting] !== undefined || env[`AzureWebJobs${setting}`] !== undefined || Object.keys(env).some((key) => key.startsWith(`${setting}__`));
    if (!set) throw new Error(`binding ${name} (${binding.type}) names connection "${setting}", an app setting which is not set`);
  }
}

/** `hh:mm:ss` or `d.hh:mm:ss` (.NET TimeSpan text) to milliseconds. */
export function parseTimeSpan(text: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`host.json functionTimeout "${text}" is not a TimeSpan like "00:05:00"`);
  const [, days, hours, minutes, seconds] = match;
  return (((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
}

function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function objectAt(root: unknown, ...path: string[]): Record<string, unknown> {
  let node = root;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return node && typeof node === 'object' ? (node as Record<string, unknown>) : {};
}

export function readHostSettings(appDir: string, env: NodeJS.ProcessEnv): HostSettings {
  const hostJson = resolveSettingExpressions(readJson(join(appDir, 'host.json')) ?? {}, env);
  const durable = objectAt(hostJson, 'extensions', 'durableTask');
  const http = objectAt(hostJson, 'extensions', 'http');
  const logLevel = objectAt(hostJson, 'logging', 'logLevel');
  const level = String(logLevel.Function ?? logLevel.default ?? 'information').toLowerCase();
  return {
    hubName: typeof durable.hubName === 'string' && durable.hubName ? durable.hubName : 'TestHubName',
    maxConcurrentActivityFunctions: positive(durable.maxConcurrentActivityFunctions, 10 * availableParallelism()),
    maxConcurrentOrchestratorFunctions: positive(durable.maxConcurrentOrchestratorFunctions, 10 * availableParallelism()),
    functionTimeoutMs: typeof hostJson.functionTimeout === 'string' ? parseTimeSpan(hostJson.functionTimeout) : 30 * 60_000,
    routePrefix: typeof http.routePrefix === 'string' ? http.routePrefix : 'api',
    logLevel: LEVELS[level] ?? 'information',
  };
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Core Tools behaviour: `local.settings.json` `Values` become environment variables unless already set. */
export function applyLocalSettings(appDir: string, env: NodeJS.ProcessEnv): string[] {
  const values = objectAt(readJson(join(appDir, 'local.settings.json')), 'Values');
  const applied: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (env[key] !== undefined) continue;
    env[key] = String(value);
    applied.push(key);
  }
  return applied;
}
