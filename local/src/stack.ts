import { readFile } from 'node:fs/promises';
import { BlobServiceClient } from '@azure/storage-blob';
import { join } from 'node:path';
import { prepareAppDatabase } from './appDatabase.js';
import { resolvePostgres } from './embeddedPostgres.js';
import { startAzurite } from './azurite.js';
import { startEventHubsEndpoint } from './eventhubs/endpoint.js';
import { loadHubsConfig } from './eventhubs/hubConfig.js';
import { HOST_DRAIN_MS, startHost } from './host/host.js';
import { spawnHost, stopHost, waitForOutput } from './hostProcess.js';
import { Components, describeExit, type ComponentExit } from './lifecycle/components.js';
import type { ServiceExit } from './lifecycle/services.js';
import type { LogLevelName } from './host/settings.js';
import { startBlobCreatedSource } from './eventGrid/blobCreatedSource.js';
import { deadLetterWriter } from './eventGrid/deadLetters.js';
import { EventGridDelivery } from './eventGrid/delivery.js';
import { containerOf, readSubscriptions } from './eventGrid/subscriptions.js';
import { startIssuer, type RunningIssuer } from './issuer/issuerServer.js';
import { loadOrCreateSigningKey } from './issuer/signingKey.js';
import { LOCAL_AUDIENCE, LOCAL_DASHBOARD_CLIENT_ID, LOCAL_ISSUER } from './issuer/tokens.js';

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
  /** What the app sees: DATABASE_URL is its least-privilege login (see adminDatabaseUrl). */
  settings: Record<string, string>;
  /** The database as its administrator, which migrated it (as the deploy hook does on Azure). */
  adminDatabaseUrl: string;
  dataDir: string;
  /** The host's process id (this process unless `hostProcess`). */
  hostPid: number;
  /** What the stack started, for its banner (absent: a real service from the settings is used). */
  services: StackServices;
  /** The first of the stack's service processes that ended while it should have been running. */
  serviceExited: Promise<ComponentExit>;
  /** The local token issuer (absent when AUTH_ISSUER points elsewhere, e.g. at a real Entra tenant). */
  issuer?: RunningIssuer;
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
  const abortable = options.signal ? { signal: options.signal } : {};
  try {
    const settings: Record<string, string> = { ...(await readLocalSettings(options.appDir)), ...options.settings };
    const setting = (name: string) => process.env[name] || settings[name] || '';

    // Real services named in the environment win over local.settings.json, as app settings do on Azure.
    for (const name of ['DATABASE_URL', 'UploadStorage', 'EventHubConnection']) if (setting(name)) settings[name] = setting(name);
    const storage = setting('UploadStorage');
    // PostgreSQL and Azurite are independent and take seconds each: they start together.
    const [postgres, azurite] = await Promise.allSettled([
      setting('DATABASE_URL') ? undefined : resolvePostgres({ dataDir: join(options.dataDir, 'postgres'), persistent, notice, ...abortable }),
      storage && storage !== 'UseDevelopmentStorage=true'
        ? undefined
        : startAzurite({ location: join(options.dataDir, 'azurite'), ports: options.storagePorts ?? 'free', notice, ...abortable }),
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
    // As on Azure: the administrator migrates before the app starts; the app connects as the app role.
    const adminDatabaseUrl = settings.DATABASE_URL!;
    settings.DATABASE_URL = await prepareAppDatabase(adminDatabaseUrl);
    settings.DB_MIGRATE_ON_START = 'false';
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

    let issuer: RunningIssuer | undefined;
    if (!setting('AUTH_ISSUER')) {
      // The local stand-in for Entra ID: the app validates its tokens through the same settings as on Azure.
      const running = await startIssuer(await loadOrCreateSigningKey(options.dataDir));
      issuer = running;
      components.add({ name: 'issuer', stop: () => running.stop(), boundMs: 1_000 });
      Object.assign(settings, {
        AUTH_ISSUER: LOCAL_ISSUER,
        AUTH_AUDIENCE: LOCAL_AUDIENCE,
        AUTH_JWKS_URL: running.jwksUrl,
        DASHBOARD_AUTHORITY: running.authority,
        DASHBOARD_CLIENT_ID: LOCAL_DASHBOARD_CLIENT_ID,
        DASHBOARD_SCOPE: `${LOCAL_AUDIENCE}/user_impersonation`,
      });
    }

    const host = options.hostProcess ? await startHostProcess(options, settings, adminDatabaseUrl) : await startHostHere(options, settings, adminDatabaseUrl);
    components.add({ name: 'host', stop: () => host.stop(), boundMs: HOST_DRAIN_MS + 2_000, ...(host.exited ? { exited: host.exited } : {}) });
    started();

    const subscriptions = await readSubscriptions(join(options.appDir, 'eventgrid.local.json'));
    const delivery = new EventGridDelivery({
      hostUrl: host.url,
      ...(options.eventGridRetryDelaysMs ? { retryDelaysMs: options.eventGridRetryDelaysMs } : {}),
      onDeadLetter: deadLetterWriter(subscriptions, (name) => settings[name] ?? setting(name), 'local-uploads-topic'),
    });
    if (services.storage) {
      // infra/bicep creates the containers the subscriptions watch (uploads): a fresh local storage gets them here,
      // so the upload API has somewhere to write.
      const blobs = BlobServiceClient.fromConnectionString(services.storage.connectionString);
      for (const subscription of subscriptions) await blobs.getContainerClient(containerOf(subscription)).createIfNotExists();
    }
    const source = startBlobCreatedSource({
      subscriptions,
      connectionString: (name) => settings[name] ?? setting(name),
      delivery,
      // The stack's own Azurite journals every version it commits; other storage is listed.
      ...(azurite.status === 'fulfilled' && azurite.value ? { commitJournal: azurite.value.commitJournal } : {}),
    });
    components.add({ name: 'Event Grid', stop: () => source.stop(), boundMs: 1_000 });
    return {
      url: host.url,
      settings,
      adminDatabaseUrl,
      dataDir: options.dataDir,
      hostPid: host.pid,
      services,
      ...(issuer ? { issuer } : {}),
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
  return { url: host.url, pid: process.pid, stop: () => host.stop({ drainMs: HOST_DRAIN_MS, quiet: true }) };
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
