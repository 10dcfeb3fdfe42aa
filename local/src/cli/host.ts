import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tcpPort } from './args.js';
import { resolvePostgres } from '../embeddedPostgres.js';
import { AppLoadError, startHost } from '../host.js';

const USAGE = `usage: bulkflow host [--app DIR] [--port 7071] [--activity-lease-ms 30000]

Runs the Functions app in DIR (default: the current folder) like \`func start\`: HTTP under /api, the Event
Grid webhook, durable functions with state in PostgreSQL (DURABLE_STORE_URL, else DATABASE_URL, else an embedded
server with data in DIR/.data/postgres), timer triggers. Ctrl-C drains in-flight work and exits.`;

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        app: { type: 'string' },
        port: { type: 'string', default: '7071' },
        'activity-lease-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = tcpPort(values.port);
  if (port === undefined) return 2;
  const appDir = resolve(values.app ?? '.');
  // The local stack runs the app as a least-privilege login; the durable store (Azure Storage's stand-in) is its own.
  const storeUrl = process.env.DURABLE_STORE_URL;
  const postgres = storeUrl
    ? { url: storeUrl, embedded: false, stop: async () => {} }
    : await resolvePostgres({ dataDir: join(appDir, '.data', 'postgres'), persistent: true });
  let host;
  try {
    host = await startHost({
      appDir,
      port,
      databaseUrl: postgres.url,
      activityLeaseMs: values['activity-lease-ms'] ? Number(values['activity-lease-ms']) : undefined,
    });
  } catch (error) {
    await postgres.stop();
    if (error instanceof AppLoadError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  console.log(`\nFunctions (task hub ${host.hubName}, ${postgres.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}):\n`);
  // The same shape as Core Tools: `Name: [GET,POST] url` for HTTP, `Name: triggerType` otherwise.
  for (const fn of host.functions) {
    const label = fn.methods ? `[${fn.methods.join(',')}] ${fn.url}` : fn.url ? `${fn.trigger} ${fn.url}` : fn.trigger;
    console.log(`  ${fn.name}: ${label}`);
  }
  console.log(`\nHost listening on ${host.url} (management API: ${host.url}/runtime/webhooks/durabletask/). Ctrl-C to stop.`);

  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      console.log(`${signal}: draining in-flight work...`);
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await host.stop();
  await postgres.stop();
  console.log('stopped');
  return 0;
}
