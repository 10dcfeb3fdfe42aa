import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareAppDatabase } from './appDatabase.js';
import { resolvePostgres, type RunningPostgres } from './embeddedPostgres.js';
import { startAzurite } from './azurite.js';
import { startEventHubsEndpoint } from './eventhubs/endpoint.js';
import { loadHubsConfig } from './eventhubs/hubConfig.js';
import { startHost } from './host.js';
import { spawnHost, stopHost, waitForOutput } from './hostProcess.js';
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
  /** Faster Event Grid retries for tests; the default is Event Grid's own schedule. */
  eventGridRetryDelaysMs?: number[];
  /** Receives every host log line instead of stdout (tests capture them). */
  log?: (line: string) => void;
  /**
   * Run the Functions host as its own process (`bulkflow host`), as on Azure, where the app's worker is alone in
   * its process: what it uses (memory, CPU) can then be measured apart from the callers. Default: in this process.
   */
  hostProcess?: boolean;
}

export interface LocalStack {
  url: string;
  /** What the app sees: DATABASE_URL is its least-privilege login (see adminDatabaseUrl). */
  settings: Record<string, string>;
  /** The database as its administrator, which migrated it (as the deploy hook does on Azure). */
  adminDatabaseUrl: string;
  dataDir: string;
  /** The host's process id (this process unless `hostProcess`). */
  hostPid: number;
  stop(): Promise<void>;
}

const EMULATOR_EVENT_HUBS = /UseDevelopmentEmulator=true/i;

/**
 * Everything `func start` plus Azure would give the app, on this machine: PostgreSQL, Azurite, the Event Hubs
 * endpoint, the Functions host and Event Grid's blob events. Real connection settings replace the embedded ones.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const persistent = options.persistent ?? true;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const settings: Record<string, string> = { ...(await readLocalSettings(options.appDir)), ...options.settings };
    const setting = (name: string) => process.env[name] || settings[name] || '';

    let postgres: RunningPostgres | undefined;
    if (!setting('DATABASE_URL')) {
      postgres = await resolvePostgres({ dataDir: join(options.dataDir, 'postgres'), persistent });
      stops.push(() => postgres!.stop());
      settings.DATABASE_URL = postgres.url;
    }
    // As on Azure: the administrator migrates before the app starts; the app connects as the app role.
    const adminDatabaseUrl = settings.DATABASE_URL || setting('DATABASE_URL');
    settings.DATABASE_URL = await prepareAppDatabase(adminDatabaseUrl);
    settings.DB_MIGRATE_ON_START = 'false';
    const storage = setting('UploadStorage');
    if (!storage || storage === 'UseDevelopmentStorage=true') {
      const azurite = await startAzurite({ location: join(options.dataDir, 'azurite') });
      stops.push(() => azurite.stop());
      settings.UploadStorage = azurite.connectionString;
      settings.AzureWebJobsStorage = azurite.connectionString;
    }
    const eventHubs = setting('EventHubConnection');
    if (!eventHubs || EMULATOR_EVENT_HUBS.test(eventHubs)) {
      const hubs = await loadHubsConfig(join(options.appDir, 'eventhubs.local.json'));
      const endpoint = await startEventHubsEndpoint({ dataDir: join(options.dataDir, 'eventhubs'), hubs, port: options.eventHubsPort ?? 0 });
      stops.push(() => endpoint.stop());
      // The hub comes from EVENT_HUB_NAME, as on Azure; the connection names only the namespace.
      const hub = setting('EVENT_HUB_NAME') || 'upload-events';
      settings.EventHubConnection = endpoint.connectionString(hub).replace(/;EntityPath=[^;]*/i, '');
    }

    const host = options.hostProcess
      ? await startHostProcess(options, settings, adminDatabaseUrl)
      : await startHostHere(options, settings, adminDatabaseUrl);
    stops.push(() => host.stop());

    const delivery = new EventGridDelivery({
      hostUrl: host.url,
      ...(options.eventGridRetryDelaysMs ? { retryDelaysMs: options.eventGridRetryDelaysMs } : {}),
    });
    const source = startBlobCreatedSource({
      subscriptions: await readSubscriptions(join(options.appDir, 'eventgrid.local.json')),
      connectionString: (name) => settings[name] ?? setting(name),
      delivery,
    });
    stops.push(() => source.stop());
    return { url: host.url, settings, adminDatabaseUrl, dataDir: options.dataDir, hostPid: host.pid, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

interface StackHost {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** `durableStoreUrl`: where the local host keeps its task hub (Azure Storage's stand-in), not the app's login. */
async function startHostHere(options: LocalStackOptions, settings: Record<string, string>, durableStoreUrl: string): Promise<StackHost> {
  const host = await startHost({
    appDir: options.appDir,
    port: options.port ?? 7071,
    env: settings,
    databaseUrl: durableStoreUrl,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return { url: host.url, pid: process.pid, stop: () => host.stop() };
}

async function startHostProcess(options: LocalStackOptions, settings: Record<string, string>, durableStoreUrl: string): Promise<StackHost> {
  const host = spawnHost(['--app', options.appDir, '--port', String(options.port ?? 7071)], { ...settings, DURABLE_STORE_URL: durableStoreUrl });
  try {
    await waitForOutput(host, 'Ctrl-C to stop', 60_000);
  } catch (error) {
    await stopHost(host);
    throw error;
  }
  const url = /Host listening on (http:\/\/\S+)/.exec(host.output())![1]!;
  return { url, pid: host.child.pid!, stop: () => stopHost(host) };
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
