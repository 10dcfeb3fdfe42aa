/** The local Functions host: runs an @azure/functions v4 + durable-functions v3 app with state in PostgreSQL. */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { triggerDispatcher, type RunningDispatcher } from './host/dispatchers.js';
import { durableClientData } from './host/durable/managementApi.js';
import { startDurableRuntime, type DurableRuntime } from './host/durable/runtime.js';
import { instrumentSdk } from './host/durable/sequence.js';
import { EventGridWebhook } from './host/eventGrid.js';
import { bodyLimit } from './host/httpBody.js';
import { HttpTriggers } from './host/httpTriggers.js';
import { functionsByTrigger, Invoker } from './host/invoke.js';
import { HostLogger } from './host/logger.js';
import { loadApp, type RegisteredFunction, type RpcTypedData } from './host/registry.js';
import { createHostServer } from './host/server.js';
import { applyLocalSettings, readHostSettings, resolveSettingExpressions, type LogLevelName } from './host/settings.js';
import './host/timerTriggers.js';

import { registerTriggerDispatcher } from './host/dispatchers.js';
import { eventHubTriggerDispatcher } from './eventhubs/eventHubTrigger.js';

// Event Hub triggers consume from whatever the app's connection setting points at (the local endpoint or Azure).
registerTriggerDispatcher('eventHubTrigger', eventHubTriggerDispatcher);

export { registerTriggerDispatcher, type TriggerDispatcher, type DispatcherContext, type RunningDispatcher } from './host/dispatchers.js';
export { AppLoadError } from './host/registry.js';

export interface HostOptions {
  appDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Variables set before the app loads (they win over local.settings.json). */
  env?: Record<string, string>;
  /** PostgreSQL for durable state; required when the app has durable functions. */
  databaseUrl?: string;
  /** Overrides host.json logging. */
  logLevel?: LogLevelName;
  /** Activity lease; a killed host's activities run again this long after it died. */
  activityLeaseMs?: number;
  /** Slow poll fallback when no notification arrives. */
  pollMs?: number;
  log?: (line: string) => void;
}

export interface HostFunction {
  name: string;
  trigger: string;
  /** HTTP methods, for HTTP triggers. */
  methods?: string[];
  url?: string;
}

export interface RunningHost {
  url: string;
  port: number;
  hubName: string;
  functions: HostFunction[];
  /** Orchestration replay figures so far (zeros when the app has no orchestrations). */
  stats(): { episodes: number; maxReplayMs: number; maxReplayEvents: number };
  /** Stops taking work, drains in-flight invocations, and closes connections. */
  stop(): Promise<void>;
}

const DURABLE_TRIGGERS = new Set(['orchestrationtrigger', 'activitytrigger', 'entitytrigger']);
const SERVED_TRIGGERS = new Set([...DURABLE_TRIGGERS, 'httptrigger', 'eventgridtrigger']);

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const appDir = resolve(options.appDir);
  for (const [key, value] of Object.entries(options.env ?? {})) process.env[key] = value;
  applyLocalSettings(appDir, process.env);
  const settings = readHostSettings(appDir, process.env);
  const logger = new HostLogger(options.logLevel ?? settings.logLevel, options.log);
  const pollMs = options.pollMs ?? 2000;

  const routes: Parameters<typeof createHostServer>[0] = {};
  const { server, inFlight } = createHostServer(routes, logger);
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, '127.0.0.1', () => done());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://localhost:${port}`;
  // The durable client builds createCheckStatusResponse URLs from it (see durable-host-contract §9.1).
  process.env.WEBSITE_HOSTNAME = `localhost:${port}`;

  const closed = new Promise<void>((done) => server.once('close', () => done()));
  const cleanup: Array<() => Promise<void>> = [async () => {
    server.closeAllConnections();
    await closed;
  }];
  const stopAll = async () => {
    server.close();
    for (const step of cleanup.reverse()) await step().catch((error: unknown) => logger.warn('shutdown step failed', { error: String(error) }));
  };
  try {
    const registry = await loadApp(appDir);
    for (const fn of registry.functions) fn.metadata.bindings = resolveSettingExpressions(fn.metadata.bindings, process.env);
    for (const fn of registry.functions) fn.trigger = fn.metadata.bindings[fn.triggerName] ?? fn.trigger;
    instrumentSdk(registry.entry);
    const clientData = JSON.stringify(durableClientData(origin, settings.hubName));
    // Any trigger may carry a durable client input (df.app.client.http / eventGrid / timer ...).
    const extraInputs = (fn: RegisteredFunction): Record<string, RpcTypedData> => {
      const inputs: Record<string, RpcTypedData> = {};
      for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
        if (binding.type.toLowerCase() === 'durableclient') inputs[name] = { string: clientData };
      }
      return inputs;
    };
    const invoker = new Invoker(registry, logger, settings.functionTimeoutMs, extraInputs);
    await invoker.runHooks('appStart', { hookData: {}, functionAppDirectory: appDir });
    // Registered early so that, run in reverse, it comes after all in-flight work has drained.
    cleanup.push(() => invoker.runHooks('appTerminate', { hookData: {} }));
    routes.http = new HttpTriggers(functionsByTrigger(registry, 'httpTrigger'), settings.routePrefix, invoker, logger, bodyLimit(process.env), registry.httpUri);
    routes.eventGrid = new EventGridWebhook(registry, invoker, logger);

    let durable: DurableRuntime | undefined;
    const usesDurable = registry.functions.some((fn) => DURABLE_TRIGGERS.has(fn.trigger.type.toLowerCase()) || Object.keys(extraInputs(fn)).length > 0);
    if (usesDurable) {
      const { databaseUrl } = options;
      if (!databaseUrl) throw new Error('this app has durable functions: startHost needs a databaseUrl for their state');
      const runtime = await startDurableRuntime({
        databaseUrl, settings, registry, invoker, logger, pollMs, activityLeaseMs: options.activityLeaseMs ?? 30_000,
      });
      durable = runtime;
      routes.management = runtime.management;
      cleanup.push(() => runtime.stop());
    }

    const dispatched: RunningDispatcher[] = [];
    const stats = () => durable?.stats() ?? { episodes: 0, maxReplayMs: 0, maxReplayEvents: 0 };
    cleanup.push(async () => {
      await Promise.all(dispatched.map((d) => d.stop()));
    });
    for (const fn of registry.functions) {
      const type = fn.trigger.type.toLowerCase();
      const dispatcher = triggerDispatcher(type);
      if (dispatcher) {
        dispatched.push(await dispatcher(fn, { invoke: (input) => invoker.invoke(fn, input), logger, env: process.env }));
      } else if (!SERVED_TRIGGERS.has(type)) {
        logger.warn('no local dispatcher for this trigger type; the function will not run', { function: fn.name, trigger: fn.trigger.type });
      }
    }
    cleanup.push(async () => {
      await Promise.all(inFlight);
    });

    const functions = registry.functions.map((fn): HostFunction => {
      const type = fn.trigger.type;
      if (type.toLowerCase() === 'httptrigger') {
        const methods = Array.isArray(fn.trigger.methods) ? (fn.trigger.methods as string[]) : ['GET', 'POST'];
        return { name: fn.name, trigger: type, methods, url: routes.http?.urlFor(fn, origin) };
      }
      if (type.toLowerCase() === 'eventgridtrigger') return { name: fn.name, trigger: type, url: `${origin}/runtime/webhooks/EventGrid?functionName=${fn.name}` };
      return { name: fn.name, trigger: type };
    });
    let stopping: Promise<void> | undefined;
    return {
      url: origin,
      port,
      hubName: settings.hubName,
      functions,
      stats,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
