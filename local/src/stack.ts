import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolvePostgres } from './embeddedPostgres.js';
import { startAzurite } from './azurite.js';
import { startEventHubsEndpoint } from './eventhubs/endpoint.js';
import { loadHubsConfig } from './eventhubs/hubConfig.js';
import { HOST_DRAIN_MS, startHost } from './host.js';
import { spawnHost, stopHost, waitForOutput } from './hostProcess.js';
import { Components, describeExit, type ComponentExit } from './lifecycle/components.js';
import type { ServiceExit } from './lifecycle/services.js';
import type { LogLevelName } from './host/settings.js';
import { startBlobCreatedSource } from './eventGrid/blobCreatedSource.js';
import { EventGridDelivery } from './eventGrid/delivery.js';
import { readSubscriptions } from './eventGrid/subscriptions.js';

export interface LocalStackOptions {
  /** The Functions app to run (directory with package.json `main`). */
  appDir: string;
  /** Where embedded services keep their data. */
  dataDir: string;
  port?: number;
  /** Keep service data between runs (the main job) or throw it away (tests). */
  persistent?: boolean;
  /** Extra app settings (override local.settings.json). */
  settings?: Record<string, string>;
  /** Host log level (host.json's by default). */
  logLevel?: LogLevelName;
  /** Event Hubs endpoint port: 0 picks a free one (tests); the main job uses the emulator's 5672. */
  eventHubsPort?: number;
  /**
   * Azurite's ports: `standard` (10000-10002 when free, so `UseDevelopmentStorage=true` reaches it: the main
   * job) or `free` (default: tests run many stacks at once).
   */
  storagePorts?: 'standard' | 'free';
  /** Faster Event Grid retries for tests; the default is Event Grid's own schedule. */
  eventGridRetryDelaysMs?: number[];
  /** Receives every host log line instead of stdout (tests capture them). */
  log?: (line: string) => void;
  /** One line each for what a user should know: ports taken, where data lives (stderr by default). */
  notice?: (line: string) => void;
  /** Aborting it stops a start in progress: what already runs is stopped and the start rejects. */
  signal?: AbortSignal;
  /**
   * Run the Functions host as its own process (`bulkflow host`), as on Azure, where the app's worker is alone in
   * its process: what it uses (memory, CPU) can then be measured apart from the callers. Default: in this process.
   */
  hostProcess?: boolean;
}

export interface LocalStack {
  url: string;
  settings: Record<string, string>;
  dataDir: string;
  /** The host's process id (this process unless `hostProcess`). */
  hostPid: number;
  /** What the stack started, for its banner (absent: a real service from the settings is used). */
  services: StackServices;
  /** The first of the stack's service processes that ended while it should have been running. */
  serviceExited: Promise<ComponentExit>;
  /** Stops everything in order (Event Grid, host, Event Hubs, Azurite, PostgreSQL), each step bounded; one line on how it went. */
  stop(): Promise<string>;
}

export interface StackServices {
  /** `developmentStorage`: on the standard ports, so `UseDevelopmentStorage=true` reaches it too. */
  storage?: { connectionString: string; developmentStorage: boolean };
  eventHubs?: { connectionString: string };
  postgres?: { url: string; dataDir: string };
}

const EMULATOR_EVENT_HUBS = /UseDevelopmentEmulator=true/i;

/**
 * Everything `func start` plus Azure would give the app, on this machine: PostgreSQL, Azurite, the Event Hubs
 * endpoint, the Functions host and Event Grid's blob events. Real connection settings replace the embedded ones.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const persistent = options.persistent ?? true;
  const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  const components = new Components();
  const services: StackServices = {};
  const started = () => options.signal?.throwIfAborted();
  try {
    const settings: Record<string, string> = { ...(await readLocalSettings(options.appDir)), ...options.settings };
    const setting = (name: string) => process.env[name] || settings[name] || '';

    // Real services named in the environment win over local.settings.json, as app settings do on Azure.
    for (const name of ['DATABASE_URL', 'UploadStorage', 'EventHubConnection']) if (setting(name)) settings[name] = setting(name);
    const storage = setting('UploadStorage');
    // PostgreSQL and Azurite are independent and take seconds each: they start together.
    const [postgres, azurite] = await Promise.allSettled([
      setting('DATABASE_URL') ? undefined : resolvePostgres({ dataDir: join(options.dataDir, 'postgres'), persistent, notice }),
      storage && storage !== 'UseDevelopmentStorage=true'
        ? undefined
        : startAzurite({ location: join(options.dataDir, 'azurite'), ports: options.storagePorts ?? 'free', notice }),
    ]);
    if (postgres.status === 'fulfilled' && postgres.value) {
      const server = postgres.value;
      components.add({ name: 'PostgreSQL', stop: () => server.stop(), boundMs: 5_000, ...processExit(server.exited) });
      settings.DATABASE_URL = server.url;
      if (server.dataDir) services.postgres = { url: server.url, dataDir: server.dataDir };
    }
    if (azurite.status === 'fulfilled' && azurite.value) {
      const server = azurite.value;
      components.add({ name: 'Azurite', stop: () => server.stop(), boundMs: 3_000, ...processExit(server.exited) });
      settings.UploadStorage = server.connectionString;
      settings.AzureWebJobsStorage = server.connectionString;
      services.storage = { connectionString: server.connectionString, developmentStorage: server.standardPorts };
    }
    for (const result of [postgres, azurite]) if (result.status === 'rejected') throw result.reason;
    started();
    const eventHubs = setting('EventHubConnection');
    if (!eventHubs || EMULATOR_EVENT_HUBS.test(eventHubs)) {
      const hubs = await loadHubsConfig(join(options.appDir, 'eventhubs.local.json'));
      const endpoint = await startEventHubsEndpoint({ dataDir: join(options.dataDir, 'eventhubs'), hubs, port: options.eventHubsPort ?? 0 });
      components.add({ name: 'Event Hubs', stop: () => endpoint.stop(), boundMs: 1_500 });
      // The hub comes from EVENT_HUB_NAME, as on Azure; the connection names only the namespace.
      const hub = setting('EVENT_HUB_NAME') || 'upload-events';
      settings.EventHubConnection = endpoint.connectionString(hub).replace(/;EntityPath=[^;]*/i, '');
      services.eventHubs = { connectionString: settings.EventHubConnection };
      started();
    }

    const host = options.hostProcess ? await startHostProcess(options, settings) : await startHostHere(options, settings);
    components.add({ name: 'host', stop: () => host.stop(), boundMs: HOST_DRAIN_MS + 2_000, ...(host.exited ? { exited: host.exited } : {}) });
    started();

    const delivery = new EventGridDelivery({
      hostUrl: host.url,
      ...(options.eventGridRetryDelaysMs ? { retryDelaysMs: options.eventGridRetryDelaysMs } : {}),
    });
    const source = startBlobCreatedSource({
      subscriptions: await readSubscriptions(join(options.appDir, 'eventgrid.local.json')),
      connectionString: (name) => settings[name] ?? setting(name),
      delivery,
    });
    components.add({ name: 'Event Grid', stop: () => source.stop(), boundMs: 1_000 });
    return {
      url: host.url,
      settings,
      dataDir: options.dataDir,
      hostPid: host.pid,
      services,
      serviceExited: components.firstExit,
      stop: () => components.stopAll(),
    };
  } catch (error) {
    await components.stopAll();
    throw error;
  }
}

interface StackHost {
  url: string;
  pid: number;
  /** For a host in its own process: resolves when it ends. */
  exited?: Promise<string>;
  stop(): Promise<void>;
}

function processExit(exited: Promise<ServiceExit> | undefined): { exited?: Promise<string> } {
  return exited ? { exited: exited.then(describeExit) } : {};
}

async function startHostHere(options: LocalStackOptions, settings: Record<string, string>): Promise<StackHost> {
  const host = await startHost({
    appDir: options.appDir,
    port: options.port ?? 7071,
    env: settings,
    databaseUrl: settings.DATABASE_URL,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return { url: host.url, pid: process.pid, stop: () => host.stop({ drainMs: HOST_DRAIN_MS, quiet: true }) };
}

async function startHostProcess(options: LocalStackOptions, settings: Record<string, string>): Promise<StackHost> {
  const host = spawnHost(['--app', options.appDir, '--port', String(options.port ?? 7071)], settings);
  try {
    await waitForOutput(host, 'Ctrl-C to stop', 60_000);
  } catch (error) {
    await stopHost(host);
    throw error;
  }
  const url = /Host listening on (http:\/\/\S+)/.exec(host.output())![1]!;
  return { url, pid: host.child.pid!, exited: host.service.exited.then(describeExit), stop: () => stopHost(host) };
}
async function readLocalSettings(appDir: string): Promise<Record<string, string>> {
  for (const file of ['local.settings.json', 'local.settings.example.json']) {
    try {
      const parsed = JSON.parse(await readFile(join(appDir, file), 'utf8')) as { Values?: Record<string, string> };
      return { ...parsed.Values };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return {};
}
