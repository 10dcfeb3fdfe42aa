import { join, resolve } from 'node:path';
import { parseCommandLine, tcpPort } from './args.js';
import { resolvePostgres } from '../embeddedPostgres.js';
import { AppLoadError, HOST_DRAIN_MS, startHost } from '../host/host.js';
import { Components, describeExit } from '../lifecycle/components.js';
import { handleStopSignals, muteConsole, stderrLine as say } from '../lifecycle/signals.js';

const USAGE = `usage: bulkflow host [--app DIR] [--port 7071] [--activity-lease-ms 30000]

Runs the Functions app in DIR (default: the current folder) like \`func start\`: HTTP under /api, the Event
Grid webhook, durable functions with state in PostgreSQL (DURABLE_STORE_URL, else DATABASE_URL, else an
embedded server with data in DIR/.data/postgres), timer triggers. Ctrl-C (or SIGTERM) drains in-flight work for up to ${HOST_DRAIN_MS / 1000} s, stops
PostgreSQL and exits 0; a second Ctrl-C exits at once.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args,
    options: {
      app: { type: 'string' },
      port: { type: 'string', default: '7071' },
      'activity-lease-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }, `\n${USAGE}`);
  if (!parsed) return 2;
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = tcpPort(values.port);
  if (port === undefined) return 2;
  const appDir = resolve(values.app ?? '.');
  const stop = handleStopSignals();
  const components = new Components();
  console.error(`starting the Functions host for ${appDir}...`);
  try {
    // The local stack runs the app as a least-privilege login; the durable store (Azure Storage's stand-in) is its own.
    const storeUrl = process.env.DURABLE_STORE_URL;
    const postgres = storeUrl
      ? { url: storeUrl, embedded: false as const, stop: async () => {} }
      : await resolvePostgres({ dataDir: join(appDir, '.data', 'postgres'), persistent: true, notice: (line) => console.error(line), signal: stop.signal });
    components.add({ name: 'PostgreSQL', stop: () => postgres.stop(), boundMs: 5_000, ...(postgres.exited ? { exited: postgres.exited.then(describeExit) } : {}) });
    stop.signal.throwIfAborted();
    let host;
    try {
      host = await startHost({
        appDir,
        port,
        databaseUrl: postgres.url,
        activityLeaseMs: values['activity-lease-ms'] ? Number(values['activity-lease-ms']) : undefined,
      });
    } catch (error) {
      if (error instanceof AppLoadError) {
        console.error(error.message);
        await components.stopAll();
        return 1;
      }
      throw error;
    }
    const running = host;
    components.add({ name: 'host', stop: () => running.stop({ drainMs: HOST_DRAIN_MS, quiet: true }), boundMs: HOST_DRAIN_MS + 1_000 });
    stop.signal.throwIfAborted();
    const database = postgres.embedded ? `embedded PostgreSQL, data in ${postgres.dataDir}` : 'DATABASE_URL';
    console.log(`\nFunctions (task hub ${host.hubName}, ${database}):\n`);
    // The same shape as Core Tools: `Name: [GET,POST] url` for HTTP, `Name: triggerType` otherwise.
    for (const fn of host.functions) {
      const label = fn.disabled ? `disabled: ${fn.disabled}` : fn.methods ? `[${fn.methods.join(',')}] ${fn.url}` : fn.url ? `${fn.trigger} ${fn.url}` : fn.trigger;
      console.log(`  ${fn.name}: ${label}`);
    }
    console.log(`\nHost listening on ${host.url} (management API: ${host.url}/runtime/webhooks/durabletask/). Ctrl-C to stop.`);

    const ended = await Promise.race([
      new Promise<'signal'>((done) => stop.signal.addEventListener('abort', () => done('signal'), { once: true })),
      components.firstExit.then((exit) => {
        say(`${exit.name} ${exit.how}: stopping the host`);
        return 'service' as const;
      }),
    ]);
    muteConsole();
    say(await components.stopAll());
    // A server's normal end is being asked to stop: 0 (as \`func start\`); 1 when PostgreSQL ended under it.
    return ended === 'signal' ? 0 : 1;
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    muteConsole();
    await components.stopAll();
    return stop.exitCode();
  } finally {
    stop.dispose();
  }
}
