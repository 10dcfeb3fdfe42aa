import { resolve } from 'node:path';
import { parseCommandLine, tcpPort } from './args.js';
import { startEventHubsEndpoint } from '../eventhubs/endpoint.js';
import { loadHubsConfig } from '../eventhubs/hubConfig.js';
import { Components } from '../lifecycle/components.js';
import { handleStopSignals, muteConsole, stderrLine } from '../lifecycle/signals.js';

const USAGE = `usage: bulkflow eventhubs [--port 5672] [--config eventhubs.local.json] [--data .data/eventhubs] [--fsync always|interval]`;

/** `npx bulkflow eventhubs`: runs the local Event Hubs endpoint until interrupted. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args,
    options: {
      port: { type: 'string', default: '5672' },
      config: { type: 'string', default: 'eventhubs.local.json' },
      data: { type: 'string', default: '.data/eventhubs' },
      fsync: { type: 'string', default: 'always' },
      help: { type: 'boolean', default: false },
    },
  }, USAGE);
  if (!parsed) return 2;
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = tcpPort(values.port, USAGE);
  if (port === undefined) return 2;
  if (values.fsync !== 'always' && values.fsync !== 'interval') {
    console.error(`--fsync must be "always" or "interval", got "${values.fsync}"\n${USAGE}`);
    return 2;
  }
  const hubs = await loadHubsConfig(resolve(values.config));
  const stop = handleStopSignals();
  try {
    const endpoint = await startEventHubsEndpoint({
      port,
      dataDir: resolve(values.data),
      hubs,
      fsync: values.fsync,
      log: (event, fields) => console.error(JSON.stringify({ time: new Date().toISOString(), event, ...fields })),
    });
    const components = new Components();
    components.add({ name: 'Event Hubs', stop: () => endpoint.stop(), boundMs: 3_000 });
    if (stop.signal.aborted) {
      await components.stopAll();
      return stop.exitCode();
    }
    for (const hub of Object.keys(hubs)) console.log(`${hub}: ${endpoint.connectionString(hub)}`);
    await new Promise<void>((done) => stop.signal.addEventListener('abort', () => done(), { once: true }));
    muteConsole();
    stderrLine(await components.stopAll());
    // A server's normal end is being asked to stop.
    return 0;
  } finally {
    stop.dispose();
  }
}
