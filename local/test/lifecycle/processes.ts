import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { allProcesses, running } from '../../src/lifecycle/processGroup.js';
import { localPackagePath } from '../../src/packageRoot.js';

/** A `bulkflow` command run as a terminal would: in its own process group, which the test can signal. */
export interface Command {
  child: ChildProcess;
  pid: number;
  /** Everything printed (stdout and stderr), with the time each chunk arrived. */
  output(): string;
  linesSince(time: number): string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

export function runBulkflow(args: string[], env: Record<string, string> = {}): Command {
  return runCommand(process.execPath, [localPackagePath('bin', 'bulkflow.js'), ...args], env);
}

export function runCommand(file: string, args: string[], env: Record<string, string> = {}): Command {
  const child = spawn(file, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const chunks: Array<{ at: number; text: string }> = [];
  const keep = (chunk: Buffer) => chunks.push({ at: Date.now(), text: chunk.toString() });
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return {
    child,
    pid: child.pid!,
    output: () => chunks.map((c) => c.text).join(''),
    linesSince: (time) => chunks.filter((c) => c.at >= time).map((c) => c.text).join('').split('\n').filter((line) => line.trim()),
    exited,
  };
}

export async function waitForText(command: Command, text: string | RegExp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const found = () => (typeof text === 'string' ? command.output().includes(text) : text.test(command.output()));
  while (!found()) {
    if (command.child.exitCode !== null || command.child.signalCode !== null) {
      throw new Error(`bulkflow exited (${command.child.exitCode ?? command.child.signalCode}) before printing ${String(text)}:\n${command.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`bulkflow did not print ${String(text)} within ${timeoutMs} ms:\n${command.output()}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** Every process below `pid` (children, their children...), from /proc. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const { pid: child, ppid } of allProcesses()) parents.set(ppid, [...(parents.get(ppid) ?? []), child]);
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** TCP ports the given processes listen on (IPv4 and IPv6), from /proc. */
export function listeningPorts(pids: number[]): number[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const target = (() => {
          try {
            return readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return '';
          }
        })();
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode) inodes.add(inode);
      }
    } catch {
      // exited meanwhile
    }
  }
  return [...listening().entries()].filter(([, inode]) => inodes.has(inode)).map(([port]) => port);
}

/** Listening TCP ports on this machine, with their socket inode. */
export function listening(): Map<number, string> {
  const ports = new Map<number, string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== '0A') continue; // LISTEN
      ports.set(parseInt(fields[1]!.split(':').pop()!, 16), fields[9]!);
    }
  }
  return ports;
}

/** Not ended: a zombie (killed, not yet reaped) has. */
export const alive = running;

export interface StopMeasure {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the signal to the process's exit. */
  ms: number;
  /** Lines printed after the signal. */
  lines: string[];
  /** Processes that were below the command when it was signalled and still run. */
  leftProcesses: number[];
  /** Ports the command's processes listened on when signalled that something still listens on. */
  leftPorts: number[];
  portsBefore: number[];
  processesBefore: number[];
}

/**
 * Sends `signal` to the command's process group (as a terminal's Ctrl-C or a service manager does) or to the
 * command alone, and measures how it ends.
 */
export async function signalAndMeasure(command: Command, signal: NodeJS.Signals, target: 'group' | 'parent'): Promise<StopMeasure> {
  const processesBefore = descendants(command.pid);
  const portsBefore = listeningPorts([command.pid, ...processesBefore]);
  const sent = Date.now();
  if (target === 'group') process.kill(-command.pid, signal);
  else process.kill(command.pid, signal);
  const exit = await Promise.race([
    command.exited,
    new Promise<undefined>((done) => setTimeout(() => done(undefined), 30_000).unref()),
  ]);
  if (!exit) {
    process.kill(-command.pid, 'SIGKILL');
    throw new Error(`bulkflow still running 30 s after ${signal}:\n${command.output()}`);
  }
  const stillListening = listening();
  return {
    code: exit.code,
    signal: exit.signal,
    ms: exit.at - sent,
    lines: command.linesSince(sent),
    leftProcesses: processesBefore.filter(alive),
    leftPorts: portsBefore.filter((port) => stillListening.has(port)),
    portsBefore,
    processesBefore,
  };
}
