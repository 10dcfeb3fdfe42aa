/** Child process of bench/eventhubs.ts: runs the endpoint alone, so its memory is measured alone. */
import { startEventHubsEndpoint } from '../src/eventhubs/endpoint.js';
import type { FsyncPolicy } from '../src/eventhubs/partitionLog.js';

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
    const usage = process.resourceUsage();
    // maxRSS is in kilobytes, CPU times in microseconds.
    process.send?.({ peakRssBytes: usage.maxRSS * 1024, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 }, () => process.exit(0));
  });
});
