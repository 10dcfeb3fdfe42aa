import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/bulkflow.js', import.meta.url));

export interface HostProcess {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns `bulkflow host` (compiled CLI; `npm test` builds first). */
export function spawnHost(args: string[], env: Record<string, string>): HostProcess {
  const child = spawn(process.execPath, [bin, 'host', ...args], { env: { ...process.env, ...env } });
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
