/**
 * Publishes and consumes events of 1 to 5 KB through the real @azure/event-hubs SDK against the
 * local endpoint (in its own process), in batches of 100 to 500 events (at most 1 MiB each), and
 * prints end-to-end events/s, publish latency percentiles and the endpoint's peak RSS.
 *   npm run bench:eventhubs -- [--events 200000] [--fsync always|interval]
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition } from '@azure/event-hubs';
import { freePort } from '../src/freePort.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    fsync: { type: 'string', default: 'always' },
    concurrency: { type: 'string', default: '4' },
  },
});
const TOTAL = Number(values.events);
const CONCURRENCY = Number(values.concurrency);

let seed = 7;
const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
// A pool of bodies, so the benchmark measures transport and storage rather than payload generation.
const bodies = Array.from({ length: 64 }, () => randomBytes(1024 + Math.floor(random() * 4097)));

const dataDir = await mkdtemp(join(tmpdir(), 'bulkflow-bench-eventhubs-'));
const port = await freePort();
const child = fork(fileURLToPath(new URL('./eventhubsEndpointProcess.js', import.meta.url)), [String(port), dataDir, values.fsync], { execArgv: process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [] });
const connectionString = await new Promise<string>((resolve) => child.once('message', (message: { ready: string }) => resolve(message.ready)));

const producer = new EventHubProducerClient(connectionString);
const consumer = new EventHubConsumerClient('$Default', connectionString);
const started = performance.now();

let received = 0;
let receivedBytes = 0;
const consumed = new Promise<void>((resolve, reject) => {
  const subscription = consumer.subscribe(
    {
      processEvents: async (events) => {
        received += events.length;
        for (const event of events) receivedBytes += (event.body as Buffer).length;
        if (received >= TOTAL) void subscription.close().then(resolve);
      },
      processError: async (error) => reject(error),
    },
    // The bodies are binary: skip the SDK's attempt to JSON-parse every body.
    { startPosition: earliestEventPosition, maxBatchSize: 500, maxWaitTimeInSeconds: 1, skipParsingBodyAsJson: true },
  );
});

const latencies: number[] = [];
const batchSizes: number[] = [];
let sent = 0;
let next = 0;
async function publishWorker(): Promise<void> {
  while (sent < TOTAL) {
    const target = Math.min(100 + Math.floor(random() * 401), TOTAL - sent);
    sent += target;
    const batch = await producer.createBatch({ partitionKey: `key-${Math.floor(random() * 1000)}` });
    let added = 0;
    while (added < target && batch.tryAdd({ body: bodies[next++ % bodies.length] })) added++;
    // Whatever did not fit in 1 MiB goes in a later batch.
    sent -= target - added;
    const before = performance.now();
    await producer.sendBatch(batch);
    latencies.push(performance.now() - before);
    batchSizes.push(added);
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, publishWorker));
const publishedMs = performance.now() - started;
await consumed;
const totalMs = performance.now() - started;
await Promise.all([producer.close(), consumer.close()]);

const clientCpu = process.cpuUsage();
const endpointUsage = await new Promise<{ peakRssBytes: number; cpuMs: number }>((resolve) => {
  child.once('message', resolve);
  child.send('stop');
});
await rm(dataDir, { recursive: true, force: true });

latencies.sort((a, b) => a - b);
const percentile = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
console.log(JSON.stringify({
  benchmark: 'eventhubs',
  events: received,
  fsync: values.fsync,
  publishConcurrency: CONCURRENCY,
  batches: batchSizes.length,
  meanBatchSize: Math.round(batchSizes.reduce((a, b) => a + b, 0) / batchSizes.length),
  payloadMiB: Number(mib(receivedBytes)),
  publishEventsPerSecond: Math.round(TOTAL / (publishedMs / 1000)),
  endToEndEventsPerSecond: Math.round(received / (totalMs / 1000)),
  publishLatencyMs: { p50: +percentile(50).toFixed(1), p99: +percentile(99).toFixed(1), max: +(latencies[latencies.length - 1] ?? 0).toFixed(1) },
  endpointPeakRssMiB: Number(mib(endpointUsage.peakRssBytes)),
  // CPU per event shows which side limits throughput on a shared machine.
  endpointCpuMicrosPerEvent: Math.round((endpointUsage.cpuMs * 1000) / received),
  sdkClientsCpuMicrosPerEvent: Math.round((clientCpu.user + clientCpu.system) / received),
  benchPeakRssMiB: Number(mib(process.resourceUsage().maxRSS * 1024)),
}, null, 2));
