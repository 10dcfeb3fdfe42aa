import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { freePort } from './freePort.js';

export interface AzuriteOptions {
  /** Workspace directory for Azurite's data. */
  location: string;
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** How long to wait for all three services to accept connections. */
  readyTimeoutMs?: number;
}

export interface RunningAzurite {
  /** Full connection string (explicit endpoints, since the ports are not the defaults). */
  connectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  stop(): Promise<void>;
}

/** Azurite's published development account. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Starts the `azurite` npm package (blob, queue, table) on free loopback ports and waits until it serves. */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const blobPort = options.blobPort ?? (await freePort());
  const queuePort = options.queuePort ?? (await freePort());
  const tablePort = options.tablePort ?? (await freePort());
  await mkdir(options.location, { recursive: true });
  const require = createRequire(import.meta.url);
  const cli = join(dirname(require.resolve('azurite/package.json')), 'dist/src/azurite.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry',
      '--location', options.location,
      '--blobPort', String(blobPort), '--queuePort', String(queuePort), '--tablePort', String(tablePort),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  try {
    await Promise.race([
      Promise.all([blobPort, queuePort, tablePort].map((port) => waitForPort(port, options.readyTimeoutMs ?? 30_000))),
      exited.then((code) => {
        throw new Error(`azurite exited with code ${String(code)} before it was ready`);
      }),
    ]);
  } catch (error) {
    await stopChild(child, exited);
    throw new Error(`${(error as Error).message}\n${output.join('')}`);
  }

  const host = '127.0.0.1';
  const blobEndpoint = `http://${host}:${blobPort}/${DEV_ACCOUNT}`;
  const queueEndpoint = `http://${host}:${queuePort}/${DEV_ACCOUNT}`;
  const tableEndpoint = `http://${host}:${tablePort}/${DEV_ACCOUNT}`;
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
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
