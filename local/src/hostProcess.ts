import type { ChildProcess } from 'node:child_process';
import { describeExit } from './lifecycle/components.js';
import { spawnService, type ServiceProcess } from './lifecycle/services.js';
import { localPackagePath } from './packageRoot.js';

export interface HostProcess {
  child: ChildProcess;
  service: ServiceProcess;
  /** Everything the host printed so far (stdout and stderr). */
  output: () => string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** How long a host child may drain when asked to stop before it is killed (it bounds its own drain below this). */
export const HOST_STOP_GRACE_MS = 6_000;

/**
 * Runs `bulkflow host ARGS` (the compiled CLI) in its own process and process group, as `func start` runs the
 * app apart from its callers.
 */
export function spawnHost(args: string[], env: Record<string, string>): HostProcess {
  const service = spawnService('host', process.execPath, [localPackagePath('bin', 'bulkflow.js'), 'host', ...args], {
    env: { ...process.env, ...env },
    stopSignal: 'SIGTERM',
    // Its durable work is in PostgreSQL: activities run again after their lease, episodes roll back.
    exitSignal: 'SIGKILL',
  });
  let output = '';
  service.child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  service.child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = service.exited.then(({ code }) => code);
  return { child: service.child, service, output: () => output, exited };
}

export async function waitForOutput(host: HostProcess, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!host.output().includes(text)) {
    if (!host.service.running()) {
      const exit = await host.service.exited;
      throw new Error(`host ${describeExit(exit)} before printing "${text}":\n${host.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`host did not print "${text}" within ${timeoutMs} ms:\n${host.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM (the host drains in-flight work), SIGKILL if it has not exited within `graceMs`. */
export async function stopHost(host: HostProcess, graceMs = HOST_STOP_GRACE_MS): Promise<void> {
  await host.service.stop(graceMs);
}
