import { appendFile, mkdir } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { commitJournalName } from './eventGrid/commitJournal.js';
import { freePort } from './freePort.js';
import { rejectOnAbort, spawnService, type ServiceExit } from './lifecycle/services.js';
import { localPackagePath } from './packageRoot.js';

export interface AzuriteOptions {
  /** Workspace directory for Azurite's data. */
  location: string;
  /**
   * `standard`: 10000-10002, where `UseDevelopmentStorage=true`, Storage Explorer and `az storage` look, when
   * all three are free (otherwise free ones, after saying so through `notice`); `free` (default): any free ports
   * (tests run many stacks at once); or exact ports (restartable on the same ports).
   */
  ports?: 'standard' | 'free' | { blob: number; queue: number; table: number };
  notice?: (line: string) => void;
  /** Aborting it while Azurite starts stops it and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How long to wait for all three services to accept connections. */
  readyTimeoutMs?: number;
}

export interface RunningAzurite {
  /** Full connection string (explicit endpoints, right whatever the ports). */
  connectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  /** The blob versions it commits, one JSON line each (`BlobCommit`), kept across restarts on the same location. */
  commitJournal: string;
  /** True when on 10000-10002, so `UseDevelopmentStorage=true` reaches it. */
  standardPorts: boolean;
  /** Resolves when the Azurite process ends, asked to or not. */
  exited: Promise<ServiceExit>;
  stop(): Promise<void>;
}

export const STANDARD_PORTS = { blob: 10000, queue: 10001, table: 10002 };
/** Azurite closes its servers on SIGTERM; past this it is killed. */
const STOP_GRACE_MS = 2_000;

/** Azurite's published development account. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * Starts the `azurite` npm package (blob, queue, table) on loopback, in its own process group, and waits until it
 * serves. It runs through `bulkflow azurite`, which journals every committed blob version for local Event Grid.
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const ports = await choosePorts(options.ports ?? 'free', options.notice);
  await mkdir(options.location, { recursive: true });
  const commitJournal = join(options.location, commitJournalName);
  await appendFile(commitJournal, '');
  const service = spawnService('Azurite', process.execPath, [
    localPackagePath('bin', 'bulkflow.js'), 'azurite', '--journal', commitJournal, '--blob-port', String(ports.blob), '--',
    '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry',
    '--location', options.location,
    '--blobPort', String(ports.blob), '--queuePort', String(ports.queue), '--tablePort', String(ports.table),
  ], { stopSignal: 'SIGTERM', exitSignal: 'SIGTERM' });
  try {
    await Promise.race([
      Promise.all(Object.values(ports).map((port) => waitForPort(port, options.readyTimeoutMs ?? 30_000))),
      service.exited.then(({ code }) => {
        throw new Error(`azurite exited with code ${String(code)} before it was ready`);
      }),
      rejectOnAbort(options.signal),
    ]);
  } catch (error) {
    await service.stop(STOP_GRACE_MS);
    if (options.signal?.aborted) throw options.signal.reason;
    throw new Error(`${(error as Error).message}\n${service.output()}`);
  }

  const host = '127.0.0.1';
  const blobEndpoint = `http://${host}:${ports.blob}/${DEV_ACCOUNT}`;
  const queueEndpoint = `http://${host}:${ports.queue}/${DEV_ACCOUNT}`;
  const tableEndpoint = `http://${host}:${ports.table}/${DEV_ACCOUNT}`;
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    commitJournal,
    standardPorts: ports.blob === STANDARD_PORTS.blob && ports.queue === STANDARD_PORTS.queue && ports.table === STANDARD_PORTS.table,
    exited: service.exited,
    stop: async () => {
      await service.stop(STOP_GRACE_MS);
    },
  };
}

async function choosePorts(wanted: NonNullable<AzuriteOptions['ports']>, notice?: (line: string) => void): Promise<typeof STANDARD_PORTS> {
  if (typeof wanted === 'object') return wanted;
  if (wanted === 'standard') {
    const taken: number[] = [];
    for (const port of Object.values(STANDARD_PORTS)) if (!(await isFree(port))) taken.push(port);
    if (taken.length === 0) return STANDARD_PORTS;
    notice?.(`Azurite: port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} in use (another Azurite?); using free ports, so UseDevelopmentStorage=true does not reach this stack: use the connection string below`);
  }
  return { blob: await freePort(), queue: await freePort(), table: await freePort() };
}

/** True when nothing listens on the port on loopback (binding it succeeds). */
export async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`azurite did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
