import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import pg from 'pg';
import type { RunningIssuer } from '../../local/src/issuer/issuerServer.js';
import type { TokenRequest } from '../../local/src/issuer/tokens.js';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/src/stack.js';
import { checkedFetch } from './contract.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { suiteResource } from './suite.js';

export interface TestStack {
  /** What tests read of the stack (a fault stack assembles the same from separately started parts). */
  stack: Pick<LocalStack, 'url' | 'settings' | 'adminDatabaseUrl' | 'dataDir' | 'hostPid'>;
  url: string;
  pool: pg.Pool;
  uploads: ContainerClient;
  /** A bearer token from the stack's local issuer. */
  token(request: TokenRequest): Promise<string>;
  /**
   * fetch(`${url}${path}`) with a bearer token: the operator's (reads every state) unless `token` is given. Every
   * answer is checked against the OpenAPI document (contract.ts).
   */
  api(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  stop(): Promise<void>;
}

/** Token and API helpers of a stack whose app trusts `issuer`. */
export function apiClient(url: string, issuer: RunningIssuer): Pick<TestStack, 'token' | 'api'> {
  let operator: Promise<string> | undefined;
  return {
    token: (request) => issuer.mint(request),
    async api(path, init = {}) {
      const { token, ...rest } = init;
      const bearer = token ?? (await (operator ??= issuer.mint({ operator: true, clientId: 'test-operator', ttlSeconds: 6 * 3600 })));
      return checkedFetch(`${url}${path}`, { ...rest, headers: { ...(rest.headers as Record<string, string> | undefined), authorization: `Bearer ${bearer}` } });
    },
  };
}

/**
 * The whole product on this machine for one test file: its own database, Azurite, Event Hubs endpoint,
 * the host running the compiled app (npm test builds first), and local Event Grid with fast retries.
 */
export async function startTestStack(
  settings: Record<string, string> = {},
  options: Pick<LocalStackOptions, 'log' | 'logLevel' | 'hostProcess' | 'storagePorts'> = {},
): Promise<TestStack> {
  const database: TestDatabase = await createTestDatabase('app');
  const dataDir = await mkdtemp(join(process.cwd(), '.data', 'stack-'));
  const stack = await startLocalStack({
    appDir: process.cwd(),
    dataDir,
    port: 0,
    eventHubsPort: 0,
    persistent: false,
    logLevel: options.logLevel ?? 'warning',
    ...(options.log ? { log: options.log } : {}),
    ...(options.hostProcess ? { hostProcess: true } : {}),
    ...(options.storagePorts ? { storagePorts: options.storagePorts } : {}),
    eventGridRetryDelaysMs: [500, 1000, 2000],
    // Tests poll the API far faster than any person or state system: the rate limit has its own test.
    settings: { DATABASE_URL: database.url, TASK_HUB_NAME: 'testhub', API_RATE_LIMIT_PER_MINUTE: '1000000', ...settings },
  });
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const uploads = BlobServiceClient.fromConnectionString(stack.settings.UploadStorage!).getContainerClient('uploads');
  await uploads.createIfNotExists();
  return {
    stack,
    url: stack.url,
    pool,
    uploads,
    ...apiClient(stack.url, stack.issuer!),
    async stop() {
      await pool.end();
      await stack.stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** startTestStack for the enclosing describe block, stopped after its tests. */
export function useTestStack(...args: Parameters<typeof startTestStack>): TestStack {
  return suiteResource(() => startTestStack(...args), (t) => t.stop());
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}
