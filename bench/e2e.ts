import { basename, join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import pg from 'pg';
import { instanceIdOf, isFinal, type UploadStatus } from '../src/engine/index.js';
import type { UploadStatusBody } from '../src/status/statusBody.js';
import { appPackagePath } from '../local/src/packageRoot.js';
import { startLocalStack, type LocalStack } from '../local/src/stack.js';
import { uploadFile } from '../local/src/cli/partsUpload.js';
import { memory, resetPeak } from './processMemory.js';
import { cpuSnapshot, partsDelta, percentile, type CpuParts } from './stats.js';

/** Where one end-to-end upload spent its time, from the orchestration's own history (seconds). */
export interface DurablePhases {
  /** Blob uploaded -> orchestration started (event noticed, delivered, starter, startNew). */
  start: number;
  register: number;
  plan: number;
  /** First chunk scheduled -> last chunk done (all waves, or all sub-orchestrations). */
  commit: number;
  activate: number;
  /** Publishing the completion event and deleting the raw upload. */
  publish: number;
  /** Orchestration time outside those steps: queueing, replays, scheduling between steps. */
  between: number;
  /**
   * Share of the chunk slots' time spent waiting for the slowest chunk of their batch: for every set of chunk commits
   * scheduled together, the time each finished one waits for the last, over the time all of them were in flight.
   */
  batchIdle: number;
}

export interface EndToEndRun {
  /** Blob upload started -> upload active -> its completion event processed by the match-analysis consumer. */
  seconds: number;
  uploadSeconds: number;
  /** Upload throughput through the API (hashing the file, its parts and the commit included). */
  uploadMiBps: number;
  /** Requests the file went up in: 1 (one PUT, at most UPLOAD_PART_BYTES) or its parts. */
  uploadParts: number;
  /** Blob uploaded -> the upload is final (its status, as the status API reports it). */
  ingestSeconds: number;
  /** Final status seen -> completion event consumed by match analysis. */
  eventSeconds: number;
  /** Blob uploaded -> the first committed rows (what a user watching progress sees first). */
  firstRowSeconds: number;
  phases: DurablePhases;
  status: UploadStatus;
  rowsCommitted: number;
  /** Peak resident memory of the host process during this upload. */
  hostPeakMiB: number | null;
  /** CPU seconds of every process of the run (host, storage, PostgreSQL, this one) from blob uploaded to final. */
  ingestCpu: number;
  /** The same CPU seconds by process. */
  ingestCpuParts: CpuParts;
}

export interface StarterLatency {
  p50Ms: number;
  p99Ms: number;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface HistoryRow {
  EventType: string;
  Timestamp: string;
  FunctionName?: string;
  ScheduledTime?: string;
}

/**
 * The product path on this machine, as a user sees it, started once and measured many times: the Functions host in
 * its own process (as on Azure, so its memory is its own), Azurite, the Event Hubs endpoint and Event Grid delivery.
 */
/** The state the bench uploads as (a jurisdiction the API accepts). */
export const BENCH_STATE = 'WY';

export class EndToEndStack {
  private constructor(
    private readonly stack: LocalStack,
    private readonly uploads: ContainerClient,
    private readonly pool: pg.Pool,
    /** An operator's bearer token for the status API. */
    private readonly headers: Record<string, string>,
  ) {}

  /** `settings`: app settings for this run (e.g. INGEST_MAX_CHUNKS_IN_FLIGHT), over local.settings.json. */
  static async start(options: { databaseUrl: string; dataDir: string; settings?: Record<string, string> }): Promise<EndToEndStack> {
    const stack = await startLocalStack({
      appDir: appPackagePath(), dataDir: options.dataDir, port: 0, eventHubsPort: 0, persistent: false, logLevel: 'warning', hostProcess: true,
      settings: { DATABASE_URL: options.databaseUrl, TASK_HUB_NAME: 'bench', ...options.settings },
    });
    const uploads = BlobServiceClient.fromConnectionString(stack.settings.UploadStorage!).getContainerClient('uploads');
    await uploads.createIfNotExists();
    const headers = { authorization: `Bearer ${await stack.issuer!.mint({ operator: true })}` };
    return new EndToEndStack(stack, uploads, new pg.Pool({ connectionString: options.databaseUrl, max: 2 }), headers);
  }

  /**
   * Uploads `file` through the upload API as state WY would (in parts above UPLOAD_PART_BYTES, four at once) and
   * follows it until its completion event was consumed.
   */
  async measure(file: string, run: number): Promise<EndToEndRun> {
    const blobName = `${BENCH_STATE.toLowerCase()}/run-${run}-${basename(file).replace(/[^A-Za-z0-9._-]/g, '-')}`;
    const blob = this.uploads.getBlockBlobClient(blobName);
    const peakReset = await resetPeak(this.stack.hostPid);
    const startedAt = Date.now();
    const token = await this.stack.issuer!.mint({ states: [BENCH_STATE] });
    const sent = await uploadFile({ baseUrl: this.stack.url, state: BENCH_STATE, file, fileName: blobName.split('/')[1]!, token, parallel: 4 });
    // A file in parts is stored by the commit's activity, which the client learns of at its next read of the session
    // (every 2 s): the file counts as uploaded when the session was committed (same clock: this machine's).
    const { rows: [session] } = await this.pool.query<{ at: Date }>(
      "SELECT last_activity AS at FROM bulkflow.upload_sessions WHERE upload_id = $1 AND status = 'committed'",
      [sent.uploadId],
    );
    const uploadedAt = session?.at.getTime() ?? Date.now();
    const cpuUploaded = cpuSnapshot(this.stack.hostPid);
    const { uploadId } = sent;
    // The upload's own row and chunk ledger, which the status API reports, polled directly: a status request every
    // 100 ms costs the host and the database more than the figure is worth.
    let firstRowAt: number | undefined;
    for (;;) {
      await sleep(100);
      const { rows: [row] } = await this.pool.query<{ status: UploadStatus; committed: string }>(
        `SELECT status, (SELECT coalesce(sum(rows_committed), 0) FROM bulkflow.chunk_ledger WHERE upload_id = $1) AS committed
         FROM bulkflow.uploads WHERE upload_id = $1`,
        [uploadId],
      );
      if (!row) continue;
      if (firstRowAt === undefined && Number(row.committed) > 0) firstRowAt = Date.now();
      if (isFinal(row.status)) break;
    }
    const finalAt = Date.now();
    const cpuFinal = cpuSnapshot(this.stack.hostPid);
    const ingestCpu = cpuFinal.ours - cpuUploaded.ours;
    const response = await fetch(`${this.stack.url}/api/uploads/${uploadId}`, { headers: this.headers });
    if (!response.ok) throw new Error(`status API answered HTTP ${response.status}`);
    const status = (await response.json()) as UploadStatusBody;
    for (;;) {
      const { rowCount } = await this.pool.query('SELECT 1 FROM bulkflow.match_runs WHERE upload_id = $1', [uploadId]);
      if (rowCount || status.status !== 'complete') break;
      await sleep(50);
    }
    const consumedAt = Date.now();
    const hostPeakMiB = peakReset ? (await memory(this.stack.hostPid)).peakMiB : null;
    const phases = await durablePhases(this.stack.url, instanceIdOf(uploadId), uploadedAt);
    await blob.deleteIfExists(); // the app deletes raw uploads once they are final
    const span = (from: number, to: number) => (to - from) / 1000;
    return {
      seconds: span(startedAt, consumedAt),
      uploadSeconds: span(startedAt, uploadedAt),
      uploadMiBps: sent.uploadBytes / 2 ** 20 / span(startedAt, uploadedAt),
      uploadParts: sent.parts,
      ingestSeconds: span(uploadedAt, finalAt),
      eventSeconds: span(finalAt, consumedAt),
      firstRowSeconds: span(uploadedAt, firstRowAt ?? finalAt),
      phases,
      status: status.status,
      rowsCommitted: status.rowsCommitted,
      hostPeakMiB,
      ingestCpu,
      ingestCpuParts: partsDelta(cpuUploaded, cpuFinal),
    };
  }

  /** `count` BlobCreated deliveries at once (distinct blob versions), as Event Grid sends them to the webhook. */
  async starterLatency(round: number, count = 100): Promise<StarterLatency> {
    const latencies = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = `zz/starter-${round}-${i}.csv`;
        const event = {
          id: `bench-${round}-${i}`, topic: '/bench', subject: `/blobServices/default/containers/uploads/blobs/${name}`,
          eventType: 'Microsoft.Storage.BlobCreated', eventTime: new Date().toISOString(), dataVersion: '', metadataVersion: '1',
          data: { api: 'PutBlob', eTag: `0x${round.toString(16)}${i.toString(16).padStart(4, '0')}`, contentLength: 100, url: `${this.uploads.url}/${name}` },
        };
        const started = performance.now();
        const response = await fetch(`${this.stack.url}/runtime/webhooks/EventGrid?functionName=blobCreatedStarter`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body: JSON.stringify([event]),
        });
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`starter answered HTTP ${response.status}`);
        return performance.now() - started;
      }),
    );
    await this.idle();
    return { p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
  }

  /** Waits until no orchestration runs (the starter rounds leave 100 short-lived ones behind). */
  private async idle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const response = await fetch(`${this.stack.url}/runtime/webhooks/durabletask/instances?runtimeStatus=Pending,Running&top=1`);
      if (((await response.json()) as unknown[]).length === 0) return;
      await sleep(250);
    }
    throw new Error('orchestrations still running after the starter round');
  }

  async stop(): Promise<void> {
    await this.pool.end();
    await this.stack.stop();
  }
}

/**
 * An upload orchestration's steps, read from its history through the host's durable management API (as on Azure);
 * `uploadedAt` (epoch ms) is when its blob was uploaded.
 */
export async function durablePhases(hostUrl: string, instanceId: string, uploadedAt: number): Promise<DurablePhases> {
  let historyEvents: HistoryRow[] = [];
  // The upload is final before the orchestration is: it still publishes the completion event.
  while (!historyEvents.some((e) => e.EventType === 'ExecutionCompleted')) {
    const response = await fetch(`${hostUrl}/runtime/webhooks/durabletask/instances/${instanceId}?showHistory=true`);
    ({ historyEvents } = (await response.json()) as { historyEvents: HistoryRow[] });
    await sleep(50);
  }
  const at = (text: string) => Date.parse(text);
  const started = at(historyEvents.find((e) => e.EventType === 'ExecutionStarted')!.Timestamp);
  const ended = at(historyEvents.find((e) => e.EventType === 'ExecutionCompleted')!.Timestamp);
  const span = (...names: string[]) => {
    const done = historyEvents.filter((e) => e.FunctionName && names.includes(e.FunctionName) && e.ScheduledTime);
    if (done.length === 0) return { from: 0, to: 0 };
    return { from: Math.min(...done.map((e) => at(e.ScheduledTime!))), to: Math.max(...done.map((e) => at(e.Timestamp))) };
  };
  const step = (...names: string[]) => {
    const { from, to } = span(...names);
    return (to - from) / 1000;
  };
  // Chunk 0 commits alongside the plan: the commit step is counted from the plan's end.
  const planned = span('planUpload');
  const committed = span('commitChunk', 'ingestChunksOrchestrator');
  const steps = {
    register: step('registerUpload'),
    plan: step('planUpload'),
    commit: (committed.to - Math.max(committed.from, planned.to)) / 1000,
    activate: step('activateUpload', 'failUpload'),
    publish: step('publishOutbox', 'deleteUploadBlob'),
  };
  const inSteps = Object.values(steps).reduce((sum, value) => sum + value, 0);
  return { start: (started - uploadedAt) / 1000, ...steps, between: (ended - started) / 1000 - inSteps, batchIdle: batchIdle(historyEvents) };
}

/** See DurablePhases.batchIdle; 0 when chunks were not committed by this orchestration itself. */
function batchIdle(historyEvents: HistoryRow[]): number {
  const batches = new Map<string, number[]>();
  for (const e of historyEvents) {
    if (e.FunctionName !== 'commitChunk' || !e.ScheduledTime) continue;
    batches.set(e.ScheduledTime, [...(batches.get(e.ScheduledTime) ?? []), Date.parse(e.Timestamp)]);
  }
  let idle = 0;
  let busy = 0;
  for (const [scheduled, ends] of batches) {
    const last = Math.max(...ends);
    idle += ends.reduce((sum, end) => sum + last - end, 0);
    busy += ends.length * (last - Date.parse(scheduled));
  }
  return busy > 0 ? idle / busy : 0;
}

export const e2eDataDir = (root: string) => join(root, '.data', `bench-stack-${process.pid}`);
