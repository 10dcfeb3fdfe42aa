import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { runningMembers } from './processGroup.js';

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as another user (root starting PostgreSQL as `postgres`). */
  uid?: number;
  gid?: number;
  /** The signal that asks the service to stop cleanly. */
  stopSignal: NodeJS.Signals;
  /** Sent to the service's process group if this process exits while the service still runs. */
  exitSignal: NodeJS.Signals;
}

/** A background service (PostgreSQL, Azurite, a host child) in its own process group. */
export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves once the service and every process of its group have ended (see `groupEnded`). */
  readonly exited: Promise<ServiceExit>;
  running(): boolean;
  /** The last lines the service printed (stdout and stderr). */
  output(): string;
  /**
   * Sends the stop signal; after `graceMs`, each of `escalate` in turn (one `graceMs` apart), then SIGKILL to the
   * whole process group. Resolves when the service has exited.
   */
  stop(graceMs: number, escalate?: NodeJS.Signals[]): Promise<ServiceExit>;
}

// Every service still running when this process exits gets its exit signal, so a crash or a forced exit
// (second Ctrl-C, the stop deadline) leaves nothing behind. Synchronous: 'exit' handlers cannot wait.
const live = new Map<number, NodeJS.Signals>();
process.on('exit', signalServicesNow);

/** Sends every running service's exit signal to its process group now (used on forced exits). */
export function signalServicesNow(): void {
  for (const [pid, signal] of live) signalGroup(pid, signal);
}

/**
 * Starts a service detached, that is in a new process group: a terminal's Ctrl-C (sent to the foreground group)
 * or a group-wide SIGTERM then reaches only this process, which stops its services in order.
 */
export function spawnService(name: string, command: string, args: string[], options: ServiceProcessOptions): ServiceProcess {
  const spawnOptions: SpawnOptions = {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
  };
  const child = spawn(command, args, spawnOptions);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('exit', (code, signal) => {
      void groupEnded(child.pid!).then(() => {
        live.delete(child.pid!);
        resolve({ code, signal });
      });
    });
    // A spawn failure (ENOENT, EACCES) emits 'error' and no 'exit'.
    child.once('error', (error) => {
      tail += `\n${error.message}`;
      resolve({ code: null, signal: null });
    });
  });
  if (child.pid) live.set(child.pid, options.exitSignal);
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined && live.has(child.pid);

  return {
    name,
    child,
    exited,
    running,
    output: () => tail,
    async stop(graceMs, escalate = []) {
      if (!running()) return exited;
      for (const signal of [options.stopSignal, ...escalate]) {
        signalGroup(child.pid!, signal);
        if (await settlesWithin(exited, graceMs)) return exited;
      }
      signalGroup(child.pid!, 'SIGKILL');
      return exited;
    },
  };
}

/** How long processes of a group get to finish dying after SIGKILL (a process in uninterruptible I/O takes a moment). */
const GROUP_KILL_WAIT_MS = 5_000;

/**
 * Resolves once no process of the group `pgid` runs. When the leader ends, processes it started may still run
 * (PostgreSQL's backends when only the postmaster was killed, a service's own children), or may be killed but still
 * tearing down (the whole group was sent SIGKILL and the leader was reaped first): the service has not ended until
 * they have, or a restart meets them (a port in use, "postmaster.pid already exists"). Leftovers are killed; a
 * zombie counts as ended (its new parent reaps it).
 */
async function groupEnded(pgid: number): Promise<void> {
  if (runningMembers(pgid).length === 0) return;
  signalGroup(pgid, 'SIGKILL');
  const deadline = Date.now() + GROUP_KILL_WAIT_MS;
  while (runningMembers(pgid).length > 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** True when `promise` settles within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects with the signal's reason once it is aborted (never settles without a signal). */
export function rejectOnAbort(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
