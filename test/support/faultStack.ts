import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import pg from 'pg';
import { startAzurite, type RunningAzurite } from '../../local/src/azurite.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../local/src/embeddedPostgres.js';
import { startBlobCreatedSource } from '../../local/src/eventGrid/blobCreatedSource.js';
import { EventGridDelivery } from '../../local/src/eventGrid/delivery.js';
import { readSubscriptions } from '../../local/src/eventGrid/subscriptions.js';
import { startEventHubsEndpoint, type EventHubsEndpoint } from '../../local/src/eventhubs/endpoint.js';
import { loadHubsConfig } from '../../local/src/eventhubs/hubConfig.js';
import { freePort } from '../../local/src/freePort.js';
import { spawnHost, stopHost, waitForOutput, type HostProcess } from '../../local/src/hostProcess.js';
import { startIssuer } from '../../local/src/issuer/issuerServer.js';
import { loadOrCreateSigningKey } from '../../local/src/issuer/signingKey.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../local/src/issuer/tokens.js';
import { apiClient, type TestStack } from './localStack.js';
import { suiteResource } from './suite.js';

/**
 * The product with every piece separately killable: its own embedded PostgreSQL and Azurite on fixed ports
 * (restartable on the same data), and the host as a child process (`bulkflow host`) that can be SIGKILLed.
 */
export interface FaultStack extends TestStack {
  killHost(): Promise<void>;
  startHost(): Promise<void>;
  /** Stops PostgreSQL (fast shutdown: open connections are cut), waits `downMs`, starts it on the same data and port. */
  restartPostgres(downMs: number): Promise<void>;
  stopAzurite(): Promise<void>;
  stopEventHubs(): Promise<void>;
  startEventHubs(): Promise<void>;
  startAzurite(): Promise<void>;
  hostOutput(): string;
}

/** startFaultStack for the enclosing describe block, stopped after its tests. */
export function useFaultStack(extra?: Record<string, string>): FaultStack {
  return suiteResource(() => startFaultStack(extra), (t) => t.stop());
}

export async function startFaultStack(extra: Record<string, string> = {}): Promise<FaultStack> {
  const appDir = process.cwd();
  const dataDir = await mkdtemp(join(appDir, '.data', 'faults-'));
  // As root PostgreSQL runs as `postgres`, which must enter this folder (mkdtemp makes it private) to keep its
  // data here, where stop() removes it.
  await chmod(dataDir, 0o755);
  const pgPort = await freePort();
  const startPg = () => startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), persistent: true, port: pgPort });
  let postgres: RunningPostgres | undefined = await startPg();
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const startAz = () => startAzurite({ location: join(dataDir, 'azurite'), ports: { blob: blobPort, queue: queuePort, table: tablePort } });
  let azurite: RunningAzurite | undefined = await startAz();
  const hubsConfig = await loadHubsConfig(join(appDir, 'eventhubs.local.json'));
  const hubsPort = await freePort();
  const startHubs = () => startEventHubsEndpoint({ dataDir: join(dataDir, 'eventhubs'), hubs: hubsConfig, port: hubsPort });
  let hubs: EventHubsEndpoint | undefined = await startHubs();

  const issuer = await startIssuer(await loadOrCreateSigningKey(dataDir));
  const example = JSON.parse(await readFile(join(appDir, 'local.settings.example.json'), 'utf8')) as { Values: Record<string, string> };
  const settings: Record<string, string> = {
    ...example.Values,
    DATABASE_URL: postgres.url,
    UploadStorage: azurite.connectionString,
    AzureWebJobsStorage: azurite.connectionString,
    EventHubConnection: hubs.connectionString('upload-events').replace(/;EntityPath=[^;]*/i, ''),
    TASK_HUB_NAME: 'faulthub',
    AUTH_ISSUER: LOCAL_ISSUER,
    AUTH_AUDIENCE: LOCAL_AUDIENCE,
    AUTH_JWKS_URL: issuer.jwksUrl,
    API_RATE_LIMIT_PER_MINUTE: '1000000',
    ...extra,
  };
  const hostPort = await freePort();
  const url = `http://127.0.0.1:${hostPort}`;
  let host: HostProcess | undefined;
  const startHost = async () => {
    // A short activity lease: a killed host's activities run again seconds after it died.
    host = spawnHost(['--port', String(hostPort), '--activity-lease-ms', '3000'], settings);
    await waitForOutput(host, 'Host listening', 60_000);
  };
  await startHost();

  const delivery = new EventGridDelivery({ hostUrl: url, retryDelaysMs: [500, 1000, 2000, 4000, 8000, 8000, 8000] });
  const source = startBlobCreatedSource({
    subscriptions: await readSubscriptions(join(appDir, 'eventgrid.local.json')),
    connectionString: (name) => settings[name] ?? '',
    delivery,
    // The same file across Azurite restarts (same location).
    commitJournal: azurite.commitJournal,
  });
  const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
  pool.on('error', () => {}); // idle clients die with the PostgreSQL restart
  const uploads: ContainerClient = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('uploads');
  await uploads.createIfNotExists();

  const killHost = async () => {
    if (!host || host.child.exitCode !== null) return;
    host.child.kill('SIGKILL');
    await host.exited;
  };
  return {
    stack: { url, settings, adminDatabaseUrl: postgres.url, dataDir, get hostPid() { return host?.child.pid ?? 0; } },
    url,
    pool,
    uploads,
    ...apiClient(url, issuer),
    killHost,
    startHost,
    hostOutput: () => host?.output() ?? '',
    async restartPostgres(downMs) {
      await postgres?.stop();
      postgres = undefined;
      await new Promise((done) => setTimeout(done, downMs));
      postgres = await startPg();
    },
    async stopEventHubs() {
      await hubs?.stop();
      hubs = undefined;
    },
    async startEventHubs() {
      hubs = await startHubs();
    },
    async stopAzurite() {
      await azurite?.stop();
      azurite = undefined;
    },
    async startAzurite() {
      azurite = await startAz();
    },
    async stop() {
      await source.stop().catch(() => {});
      if (host) await stopHost(host);
      await pool.end().catch(() => {});
      await hubs?.stop().catch(() => {});
      await azurite?.stop().catch(() => {});
      await postgres?.stop().catch(() => {});
      await issuer.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
