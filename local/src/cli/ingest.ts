import { basename, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { EventHubConsumerClient, earliestEventPosition, type EventPosition } from '@azure/event-hubs';
import { BlobServiceClient } from '@azure/storage-blob';
import cliProgress from 'cli-progress';
import pg from 'pg';
import { isFinal, uploadIdOf } from '../../../src/engine/index.js';
import { getMatchRun, type MatchRun } from '../../../src/engine/matchAnalysis.js';
import type { OutboxEvent } from '../../../src/engine/outboxDelivery.js';
import type { UploadStatusBody } from '../../../src/status/statusBody.js';
import type { LocalStack } from '../stack.js';
import { tcpPort } from './args.js';
import { runOnStack, STACK_OPTIONS, STACK_OPTIONS_USAGE, stackOptions } from './runOnStack.js';

/** A wait that ends early, by throwing, when the command stops. */
const pause = (ms: number, signal?: AbortSignal) => sleep(ms, undefined, signal ? { signal } : {});

export interface IngestSummary {
  uploadId: string;
  instanceId: string;
  state: string;
  status: string;
  rowsTotal: number | null;
  rowsCommitted: number;
  rowsRejected: number;
  errors: Array<{ line: number; column: string | null; code: string; message: string }>;
  durationMs: number;
  rowsPerSecond: number | null;
  /** From the upload being final to its completion event being read from the hub (null: not received). */
  eventWaitMs: number | null;
  event: { id: string; type: string; subject: string } | null;
  matchAnalysis: MatchRun['results'] | null;
  statusUrl: string;
  managementUrl: string;
}

const USAGE = `usage: bulkflow ingest FILE --state XX [--json] [--port 7071] ${STACK_OPTIONS_USAGE}`;

/** `bulkflow ingest FILE --state XX [--json]`: the whole product path for one file, on this machine. */
export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { state: { type: 'string' }, json: { type: 'boolean', default: false }, port: { type: 'string', default: '7071' }, ...STACK_OPTIONS },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const file = positionals[0];
  const port = tcpPort(values.port, USAGE);
  if (!file || !values.state || !/^[A-Za-z]{2}$/.test(values.state) || port === undefined) {
    if (port !== undefined) console.error(USAGE);
    return 2;
  }
  return runOnStack(stackOptions(values, port), async (stack, signal) => {
    console.error(`uploading ${file} to uploads/${values.state!.toLowerCase()}/ ...`);
    const summary = await ingestFile(stack, resolve(file), values.state!, { progress: true, signal });
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else printSummary(summary);
    return summary.status === 'complete' ? 0 : 1;
  });
}

export interface IngestOptions {
  progress: boolean;
  /** Stops following the upload (the command is stopping). */
  signal?: AbortSignal;
}

/** Uploads a file to `uploads/{state}/` and follows it through the status API until it is final. */
export async function ingestFile(stack: LocalStack, file: string, state: string, options: IngestOptions): Promise<IngestSummary> {
  const started = Date.now();
  const { signal } = options;
  const blobName = `${state.toLowerCase()}/${basename(file)}`;
  // Opened before the upload, so the event of this upload comes after the positions it starts from.
  const events = await watchUploadEvents(stack.settings);
  try {
    const service = BlobServiceClient.fromConnectionString(stack.settings.UploadStorage!);
    const container = service.getContainerClient('uploads');
    await container.createIfNotExists({ abortSignal: signal });
    const uploaded = await container.getBlockBlobClient(blobName).uploadFile(file, { blockSize: 8 << 20, concurrency: 4, abortSignal: signal });
    const uploadId = uploadIdOf({ state, container: container.containerName, blobName, etag: uploaded.etag! });
    const status = await followProgress(stack.url, uploadId, options);
    const errors = await getJson<{ errors: IngestSummary['errors'] }>(`${stack.url}/api/uploads/${uploadId}/errors?limit=10`, signal);
    const final = Date.now();
    const event = await events.waitFor(uploadId, 30_000, signal);
    const eventWaitMs = event ? Date.now() - final : null;
    const matches = status.status === 'complete' ? await waitForMatchRun(stack.settings.DATABASE_URL!, uploadId, 30_000, signal) : undefined;
    return {
      uploadId,
      instanceId: status.instanceId,
      state: status.state,
      status: status.status,
      rowsTotal: status.rowsTotal,
      rowsCommitted: status.rowsCommitted,
      rowsRejected: status.rowsRejected,
      errors: errors?.errors ?? [],
      durationMs: Date.now() - started,
      rowsPerSecond: status.rowsPerSecond,
      eventWaitMs,
      event: event ? { id: event.id, type: event.type, subject: event.subject } : null,
      matchAnalysis: matches?.results ?? null,
      statusUrl: `${stack.url}/api/uploads/${uploadId}`,
      managementUrl: `${stack.url}${status.links.orchestration}`,
    };
  } finally {
    await events.close();
  }
}

async function followProgress(hostUrl: string, uploadId: string, options: IngestOptions): Promise<UploadStatusBody> {
  const bar = options.progress
    ? new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {rows} rows | {rate} rows/s | {rejected} rejected | {phase}', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(100, 0, { rows: 0, rate: 0, rejected: 0, phase: 'waiting for the upload to start' });
  try {
    for (;;) {
      const status = await getJson<UploadStatusBody>(`${hostUrl}/api/uploads/${uploadId}`, options.signal);
      if (status) {
        bar?.update(Math.floor(status.percent), {
          rows: status.rowsCommitted + status.rowsRejected,
          rate: status.rowsPerSecond ?? 0,
          rejected: status.rowsRejected,
          phase: status.status,
        });
        if (isFinal(status.status)) return status;
      }
      await pause(500, options.signal);
    }
  } finally {
    bar?.stop();
  }
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T | undefined> {
  const response = await fetch(url, signal ? { signal } : {});
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/**
 * Listens on the upload-events hub like any downstream consumer would ($Default consumer group), from the end
 * of each partition as it is now: finding the event takes the same time however many events the hub retains.
 */
async function watchUploadEvents(settings: Record<string, string>) {
  const consumer = new EventHubConsumerClient('$Default', settings.EventHubConnection!, settings.EVENT_HUB_NAME || 'upload-events');
  let startPosition: Record<string, EventPosition>;
  try {
    startPosition = await currentEnds(consumer);
  } catch (error) {
    await consumer.close();
    throw error;
  }
  const seen = new Map<string, OutboxEvent>();
  const subscription = consumer.subscribe(
    {
      processEvents: async (received) => {
        for (const { body } of received) {
          const event = body as OutboxEvent;
          if (event?.data && typeof event.data.uploadId === 'string') seen.set(event.data.uploadId, event);
        }
      },
      processError: async () => {},
    },
    { startPosition, maxWaitTimeInSeconds: 1 },
  );
  return {
    async waitFor(uploadId: string, timeoutMs: number, signal?: AbortSignal): Promise<OutboxEvent | undefined> {
      const deadline = Date.now() + timeoutMs;
      while (!seen.has(uploadId) && Date.now() < deadline) await pause(100, signal);
      return seen.get(uploadId);
    },
    async close() {
      await subscription.close();
      await consumer.close();
    },
  };
}

/** Per partition: after its last enqueued event, or its beginning when it holds none. */
export async function currentEnds(consumer: EventHubConsumerClient): Promise<Record<string, EventPosition>> {
  const positions: Record<string, EventPosition> = {};
  for (const id of await consumer.getPartitionIds()) {
    const partition = await consumer.getPartitionProperties(id);
    positions[id] = partition.isEmpty ? earliestEventPosition : { sequenceNumber: partition.lastEnqueuedSequenceNumber, isInclusive: false };
  }
  return positions;
}

async function waitForMatchRun(databaseUrl: string, uploadId: string, timeoutMs: number, signal?: AbortSignal): Promise<MatchRun | undefined> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await getMatchRun(pool, uploadId);
      if (run || Date.now() > deadline) return run;
      await pause(250, signal);
    }
  } finally {
    await pool.end();
  }
}

export function printSummary(summary: IngestSummary): void {
  const lines = [
    '',
    `upload ${summary.uploadId} (${summary.state}): ${summary.status}`,
    `  rows: ${summary.rowsCommitted} committed, ${summary.rowsRejected} rejected of ${summary.rowsTotal ?? '?'}`,
    `  time: ${(summary.durationMs / 1000).toFixed(1)} s end to end${summary.rowsPerSecond ? `, ${summary.rowsPerSecond} rows/s` : ''}`,
  ];
  if (summary.errors.length > 0) {
    lines.push(`  first rejected rows:`);
    for (const e of summary.errors) lines.push(`    line ${e.line}${e.column ? `, ${e.column}` : ''}: ${e.message} (${e.code})`);
  }
  lines.push(summary.event ? `  event: ${summary.event.type} ${summary.event.id} (${summary.event.subject})` : '  event: not received yet');
  if (summary.matchAnalysis) {
    const matches = summary.matchAnalysis.map((m) => `${m.state}: ${m.matches}`).join(', ') || 'no other active state';
    lines.push(`  match analysis: ${matches}`);
  }
  lines.push(`  status: ${summary.statusUrl}`, `  orchestration: ${summary.managementUrl}`);
  console.log(lines.join('\n'));
}
