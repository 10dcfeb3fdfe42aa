import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { localPackagePath } from './packageRoot.js';

export interface HostProcess {
  child: ChildProcessWithoutNullStreams;
  /** Everything the host printed so far (stdout and stderr). */
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs `bulkflow host ARGS` (the compiled CLI) in its own process, as `func start` runs the app apart from its callers. */
export function spawnHost(args: string[], env: Record<string, string>): HostProcess {
  const child = spawn(process.execPath, [localPackagePath('bin', 'bulkflow.js'), 'host', ...args], { env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

export async function waitForOutput(host: HostProcess, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!host.output().includes(text)) {
    if (host.child.exitCode !== null) throw new Error(`host exited (${host.child.exitCode}) before printing "${text}":\n${host.output()}`);
    if (Date.now() > deadline) throw new Error(`host did not print "${text}" within ${timeoutMs} ms:\n${host.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM (the host drains in-flight work), SIGKILL if it has not exited within `graceMs`. */
export async function stopHost(host: HostProcess, graceMs = 20_000): Promise<void> {
  if (host.child.exitCode !== null || host.child.signalCode !== null) return;
  host.child.kill('SIGTERM');
  const timer = new Promise<'late'>((done) => setTimeout(() => done('late'), graceMs).unref());
  if ((await Promise.race([host.exited, timer])) === 'late') {
    host.child.kill('SIGKILL');
    await host.exited;
  }
}
