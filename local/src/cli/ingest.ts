import { basename, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventHubConsumerClient, earliestEventPosition, type EventPosition } from '@azure/event-hubs';
import cliProgress from 'cli-progress';
import pg from 'pg';
import {
  getMatchRun, isFinal, type MatchRun, type OutboxEvent, UPLOAD_COMPLETED, UPLOAD_FAILED, type UploadStatus,
} from '../../../src/engine/index.js';
import createClient, { type Client } from 'openapi-fetch';
import type { LocalStack } from '../stack.js';
import { parseCommandLine, stateCodes, tcpPort } from './args.js';
import type { components, paths } from './bulkflowApi.js';
import { uploadFile, type UploadResult } from './partsUpload.js';
import { runOnStack, STACK_OPTIONS, STACK_OPTIONS_USAGE, stackOptions } from './runOnStack.js';

/** A wait that ends early, by throwing, when the command stops. */
const pause = (ms: number, signal?: AbortSignal) => sleep(ms, undefined, signal ? { signal } : {});

export interface IngestSummary {
  uploadId: string;
  instanceId: string;
  state: string;
  status: UploadStatus;
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
  /** Bytes this run sent to the upload API (parts re-sent after a cut count again). */
  uploadBytes: number;
  /** Bytes the server already held when this run began (an upload a stopped run left open). */
  resumedBytes: number;
}

const USAGE = `usage: bulkflow ingest FILE --state XX [--json] [--port 7071] ${STACK_OPTIONS_USAGE}`;

/** `bulkflow ingest FILE --state XX [--json]`: the whole product path for one file, on this machine. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args,
    allowPositionals: true,
    options: { state: { type: 'string' }, json: { type: 'boolean', default: false }, port: { type: 'string', default: '7071' }, ...STACK_OPTIONS },
  }, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  const file = positionals[0];
  const port = tcpPort(values.port, USAGE);
  if (!file || !values.state || port === undefined) {
    if (port !== undefined) console.error(USAGE);
    return 2;
  }
  if (stateCodes([values.state]) === undefined) return 2;
  return runOnStack(stackOptions(values, port), async (stack, signal) => {
    console.error(`uploading ${file} through the upload API as state ${values.state!.toUpperCase()} ...`);
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

/**
 * Sends a file to the upload API as the state's own system would (a token with the state's role, from the local
 * issuer), then follows it through the status API until it is final.
 */
export async function ingestFile(stack: LocalStack, file: string, state: string, options: IngestOptions): Promise<IngestSummary> {
  if (!stack.issuer) throw new Error('the stack trusts another issuer (AUTH_ISSUER is set): ingest needs the local issuer to sign its token');
  const started = Date.now();
  const { signal } = options;
  const token = await stack.issuer.mint({ states: [state] });
  // Opened before the upload, so the event of this upload comes after the positions it starts from.
  const events = await watchUploadEvents(stack.settings);
  try {
    // The API takes letters, digits, ".", "_" and "-" in a file name.
    const name = basename(file).replace(/[^A-Za-z0-9._-]/g, '-');
    const sent = await sendFile(stack, file, state, name, token, options);
    const { uploadId } = sent;
    const api = createClient<paths>({ baseUrl: stack.url, headers: { authorization: `Bearer ${token}` } });
    const status = await followProgress(api, uploadId, options);
    const errors = await getJson(() => api.GET('/api/uploads/{uploadId}/errors', { params: { path: { uploadId }, query: { limit: 10 } }, ...(signal ? { signal } : {}) }), signal);
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
      uploadBytes: sent.uploadBytes,
      resumedBytes: sent.resumedBytes,
    };
  } finally {
    await events.close();
  }
}

/**
 * Sends the file through the upload API with a progress bar: one PUT up to the server's part size, in parts above it
 * (four at once), resuming an upload of the same file that a stopped run left open.
 */
async function sendFile(stack: LocalStack, file: string, state: string, fileName: string, token: string, options: IngestOptions): Promise<UploadResult> {
  const bar = options.progress
    ? new cliProgress.SingleBar(
        { format: ' upload {bar} {percentage}% | {sent} of {total} MiB | {rate} MiB/s | {phase}', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const started = Date.now();
  let begun = false;
  try {
    return await uploadFile({
      baseUrl: stack.url, state, file, fileName, token, parallel: 4, ...(options.signal ? { signal: options.signal } : {}),
      onProgress: ({ sentBytes, resumedBytes, totalBytes, phase }) => {
        if (!bar) return;
        const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
        const values = { sent: mib(sentBytes + resumedBytes), total: mib(totalBytes), rate: (sentBytes / 2 ** 20 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1), phase };
        if (!begun) bar.start(totalBytes, sentBytes + resumedBytes, values);
        else bar.update(sentBytes + resumedBytes, values);
        begun = true;
      },
    });
  } finally {
    if (begun) bar?.stop();
  }
}

type UploadStatusBody = components['schemas']['UploadStatus'];

async function followProgress(api: Client<paths>, uploadId: string, options: IngestOptions): Promise<UploadStatusBody> {
  const bar = options.progress
    ? new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {rows} rows | {rate} rows/s | {rejected} rejected | {phase}', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(100, 0, { rows: 0, rate: 0, rejected: 0, phase: 'waiting for the upload to start' });
  try {
    for (;;) {
      // 404 until the blob's event has registered the upload.
      const { signal } = options;
      const status = await getJson(() => api.GET('/api/uploads/{uploadId}', { params: { path: { uploadId } }, ...(signal ? { signal } : {}) }), signal);
      if (status) {
        bar?.update(Math.floor(status.percent), {
          rows: status.rowsCommitted + status.rowsRejected,
          rate: status.rowsPerSecond ?? 0,
          rejected: status.rowsRejected,
          phase: status.status,
        });
        if (isFinal(status.status)) return status;
      }
      // 40 requests a minute: inside the API's per-caller limit (60 by default); a 429 is waited out anyway.
      await pause(1500, options.signal);
    }
  } finally {
    bar?.stop();
  }
}

/** A GET through the generated client: undefined for 404; waits out a 429 as its Retry-After says. */
async function getJson<T>(get: () => Promise<{ data?: T; response: Response }>, signal?: AbortSignal): Promise<T | undefined> {
  for (;;) {
    const { data, response } = await get();
    if (response.status === 404) return undefined;
    if (response.status === 429) {
      await pause(Number(response.headers.get('retry-after') ?? 5) * 1000, signal);
      continue;
    }
    if (data === undefined) throw new Error(`GET ${new URL(response.url).pathname}: HTTP ${response.status}`);
    return data;
  }
}

/**
 * Listens on the upload-events hub like any downstream consumer would ($Default consumer group), from the end
 * of each partition as it is now: finding the event takes the same time however many events the hub retains.
 */
const UPLOAD_OUTCOMES = new Set<unknown>([UPLOAD_COMPLETED, UPLOAD_FAILED]);

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
          // Match announcements name the upload too; the summary reports the upload's own outcome.
          if (!UPLOAD_OUTCOMES.has(event?.type) || typeof event.data?.uploadId !== 'string') continue;
          seen.set(event.data.uploadId, event);
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
    `  upload: ${summary.uploadBytes} bytes sent${summary.resumedBytes > 0 ? `, ${summary.resumedBytes} already held (resumed)` : ''}`,
  ];
  if (summary.errors.length > 0) {
    lines.push(`  first rejected rows:`);
    for (const e of summary.errors) lines.push(`    line ${e.line}${e.column ? `, ${e.column}` : ''}: ${e.message} (${e.code})`);
  }
  lines.push(summary.event ? `  event: ${summary.event.type} ${summary.event.id} (${summary.event.subject})` : '  event: not received yet');
  if (summary.matchAnalysis) lines.push(`  matches: ${matchLine(summary.matchAnalysis)}`);
  lines.push(`  status: ${summary.statusUrl}`, `  orchestration: ${summary.managementUrl}`);
  console.log(lines.join('\n'));
}

/** `65 open (60 new, 3 closed) with NJ 25, NY 40`: the new upload's match records, by other state. */
export function matchLine(results: MatchRun['results']): string {
  const total = (pick: (result: MatchRun['results'][number]) => number) => results.reduce((sum, result) => sum + pick(result), 0);
  const open = results.filter((result) => result.matches > 0);
  const counts = `${total((r) => r.matches)} open (${total((r) => r.new)} new, ${total((r) => r.closed)} closed)`;
  return open.length === 0 ? `${counts}: no other state's active upload shares a hash` : `${counts} with ${open.map((r) => `${r.state} ${r.matches}`).join(', ')}`;
}
