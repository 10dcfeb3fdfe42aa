/** Child process of bench/eventhubs.ts: runs the endpoint alone, so its memory is measured alone. */
import { startEventHubsEndpoint } from '../src/local/eventhubs/endpoint.js';
import type { FsyncPolicy } from '../src/local/eventhubs/partitionLog.js';

const [port = '0', dataDir = '', fsync = 'always'] = process.argv.slice(2);
const endpoint = await startEventHubsEndpoint({
  port: Number(port),
  dataDir,
  fsync: fsync as FsyncPolicy,
  hubs: { bench: { partitions: 4, retentionMs: 24 * 3600 * 1000, consumerGroups: ['$Default'] } },
});
process.send?.({ ready: endpoint.connectionString('bench') });
process.on('message', () => {
  void endpoint.stop().then(() => {
    // maxRSS is in kilobytes.
    process.send?.({ peakRssBytes: process.resourceUsage().maxRSS * 1024 }, () => process.exit(0));
  });
});
