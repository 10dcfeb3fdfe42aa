/** The local Functions host: runs an @azure/functions v4 + durable-functions v3 app with state in PostgreSQL. */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { settlesWithin } from '../lifecycle/services.js';
import { triggerDispatcher, type RunningDispatcher } from './dispatchers.js';
import { durableClientData } from './durable/managementApi.js';
import { startDurableRuntime, type DurableRuntime } from './durable/runtime.js';
import { instrumentSdk } from './durable/sequence.js';
import { EventGridWebhook } from './eventGrid.js';
import { bodyLimit } from './httpBody.js';
import { HttpTriggers } from './httpTriggers.js';
import { errorText, functionsByTrigger, Invoker } from './invoke.js';
import { HostLogger } from './logger.js';
import { loadApp, type AppRegistry, type DisabledFunction, type RegisteredFunction, type RpcTypedData } from './registry.js';
import { createHostServer } from './server.js';
import { applyLocalSettings, checkBindingConnections, readHostSettings, resolveSettingExpressions, type LogLevelName } from './settings.js';
import './eventHubTrigger.js';
import './timerTriggers.js';

export { registerTriggerDispatcher, type TriggerDispatcher, type DispatcherContext, type RunningDispatcher } from './dispatchers.js';
export { AppLoadError } from './registry.js';

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
  /** Why the host did not start this function (e.g. its binding names an app setting that is not set). */
  disabled?: string;
}

export interface RunningHost {
  url: string;
  port: number;
  hubName: string;
  functions: HostFunction[];
  /** Orchestration replay figures so far (zeros when the app has no orchestrations). */
  stats(): { episodes: number; maxReplayMs: number; maxReplayEvents: number };
  /** Stops taking work, drains in-flight invocations, and closes connections. */
  stop(options?: HostStopOptions): Promise<void>;
}

export interface HostStopOptions {
  /**
   * Resolve after this long even if in-flight work has not drained (what is left ends with the process; durable
   * work is redone from PostgreSQL). Default: wait for all of it.
   */
  drainMs?: number;
  /** Log nothing from here on (a stack shutting down reports one line per component instead). */
  quiet?: boolean;
}

/** How long a host stopped by a signal (alone or in a stack) drains in-flight work before it goes on stopping. */
export const HOST_DRAIN_MS = 4_000;

const DURABLE_TRIGGERS = new Set(['orchestrationtrigger', 'activitytrigger', 'entitytrigger']);
const SERVED_TRIGGERS = new Set([...DURABLE_TRIGGERS, 'httptrigger', 'eventgridtrigger']);

/**
 * The app with `%SETTING%` binding expressions resolved from `env`. A function whose bindings name a setting
 * that is not set (in an expression or as a binding's connection) is left out with its reason, while the others run, as the Functions host does. The loaded
 * app is shared by hosts in this process, so it is copied rather than changed.
 */
function withSettingsResolved(app: AppRegistry, env: NodeJS.ProcessEnv): AppRegistry {
  const functions: RegisteredFunction[] = [];
  const disabled: DisabledFunction[] = [];
  for (const fn of app.functions) {
    try {
      const bindings = resolveSettingExpressions(fn.metadata.bindings, env);
      checkBindingConnections(bindings, fn.triggerName, env);
      functions.push({ ...fn, metadata: { ...fn.metadata, bindings }, trigger: bindings[fn.triggerName] ?? fn.trigger });
    } catch (error) {
      disabled.push({ name: fn.name, trigger: fn.trigger, reason: errorText(error) });
    }
  }
  return { ...app, functions, disabled };
}

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
    const registry = withSettingsResolved(await loadApp(appDir), process.env);
    for (const fn of registry.disabled ?? []) logger.warn('function disabled', { function: fn.name, reason: fn.reason });
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
    const disabledHttp = (registry.disabled ?? []).filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger');
    routes.http = new HttpTriggers(functionsByTrigger(registry, 'httpTrigger'), settings.routePrefix, invoker, logger, bodyLimit(process.env), registry.httpUri, disabledHttp);
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
    for (const fn of registry.disabled ?? []) functions.push({ name: fn.name, trigger: fn.trigger.type, disabled: fn.reason });
    let stopping: Promise<void> | undefined;
    return {
      url: origin,
      port,
      hubName: settings.hubName,
      functions,
      stats,
      async stop(stopOptions = {}) {
        if (stopOptions.quiet) logger.mute();
        stopping ??= stopAll();
        if (stopOptions.drainMs === undefined) return stopping;
        await settlesWithin(stopping, stopOptions.drainMs);
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
