import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

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
      if (child.pid) live.delete(child.pid);
      resolve({ code, signal });
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
