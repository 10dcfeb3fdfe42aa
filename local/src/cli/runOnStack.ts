import { resolve } from 'node:path';
import { handleStopSignals, muteConsole, stderrLine as say } from '../lifecycle/signals.js';
import { appPackagePath } from '../packageRoot.js';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../stack.js';

/** Options every command that starts the whole stack takes (parseArgs format). */
export const STACK_OPTIONS = {
  data: { type: 'string' },
  'free-ports': { type: 'boolean', default: false },
} as const;
export const STACK_OPTIONS_USAGE = '[--data DIR (default .data)] [--free-ports (any free ports: a second stack beside the first)]';

/**
 * The main job's stack: the repository's app, data in .data (or --data), the standard local ports (host 7071,
 * Event Hubs 5672, Azurite 10000-10002) unless --free-ports.
 */
export function stackOptions(values: { data?: string; 'free-ports'?: boolean }, hostPort: number): LocalStackOptions {
  const free = values['free-ports'] === true;
  return {
    appDir: appPackagePath(),
    dataDir: values.data ? resolve(values.data) : appPackagePath('.data'),
    port: free ? 0 : hostPort,
    eventHubsPort: free ? 0 : 5672,
    storagePorts: free ? 'free' : 'standard',
  };
}

/**
 * Runs a command's work on the local stack and stops the stack in order, whatever ends the work: the work
 * itself, a stop signal (the work's `signal` is aborted; it has a second to give up), or one of the stack's
 * service processes ending on its own (the rest are stopped rather than retried against).
 *
 * Exit code: the work's; 130/143/129 when SIGINT/SIGTERM/SIGHUP interrupted starting or the work; 1 when a
 * service ended on its own. Work that serves until stopped returns its own code when its signal is aborted.
 */
export async function runOnStack(options: LocalStackOptions, work: (stack: LocalStack, signal: AbortSignal) => Promise<number>): Promise<number> {
  const stop = handleStopSignals();
  say('starting embedded PostgreSQL, Azurite, the Event Hubs endpoint and the Functions host...');
  try {
    let stack: LocalStack;
    try {
      stack = await startLocalStack({ ...options, signal: stop.signal });
    } catch (error) {
      if (stop.signal.aborted) return stop.exitCode();
      throw error;
    }
    const serviceEnded = new AbortController();
    const outcome = await Promise.race([
      work(stack, AbortSignal.any([stop.signal, serviceEnded.signal])).then(
        (code) => ({ code }),
        (error: unknown) => ({ error }),
      ),
      stack.serviceExited.then((exit) => {
        say(`${exit.name} ${exit.how}: stopping the rest`);
        serviceEnded.abort();
        return { serviceExit: true as const };
      }),
      abortedThenGrace(stop.signal, 1_000).then(() => ({ interrupted: true as const })),
    ]);
    const stopping = stop.signal.aborted || 'serviceExit' in outcome;
    if (stopping) muteConsole();
    const summary = await stack.stop();
    if (stopping) say(summary);
    if ('serviceExit' in outcome) return 1;
    if ('code' in outcome) return outcome.code;
    if (stop.signal.aborted || !('error' in outcome)) return stop.exitCode();
    throw outcome.error;
  } finally {
    stop.dispose();
  }
}

/** Resolves `graceMs` after `signal` is aborted. */
export function abortedThenGrace(signal: AbortSignal, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const later = () => setTimeout(resolve, graceMs).unref();
    if (signal.aborted) later();
    else signal.addEventListener('abort', later, { once: true });
  });
}

/** What runs where: the lines `npm start -- --serve` prints before it waits. */
export function stackBanner(stack: LocalStack, dashboardUrl: string): string {
  const { storage, eventHubs, postgres } = stack.services;
  const lines = [
    `  host:        ${stack.url} (dashboard ${dashboardUrl}, durable management ${stack.url}/runtime/webhooks/durabletask/)`,
  ];
  if (storage) {
    lines.push(storage.developmentStorage
      ? `  storage:     UseDevelopmentStorage=true (or ${storage.connectionString})`
      : `  storage:     ${storage.connectionString}`);
  }
  if (eventHubs) lines.push(`  Event Hubs:  ${eventHubs.connectionString} (hub ${stack.settings.EVENT_HUB_NAME || 'upload-events'})`);
  if (postgres) lines.push(`  PostgreSQL:  ${postgres.url} (data in ${postgres.dataDir})`);
  const connection = storage?.developmentStorage ? 'UseDevelopmentStorage=true' : `"${storage?.connectionString ?? stack.settings.UploadStorage}"`;
  lines.push(
    'Upload a CSV to uploads/{state}/ and it is ingested, e.g.',
    `  az storage blob upload --connection-string ${connection} --container-name uploads --name ca/file.csv --file file.csv`,
  );
  return lines.join('\n');
}
