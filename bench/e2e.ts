import { basename, join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import pg from 'pg';
import { isFinal, packageRoot, uploadIdOf, type UploadStatus } from '../src/engine/index.js';
import type { UploadStatusBody } from '../src/status/statusBody.js';
import { startLocalStack } from '../local/src/stack.js';

export interface EndToEnd {
  /** Blob upload started -> upload active -> its completion event processed by the match-analysis consumer. */
  seconds: number;
  /** Where the time went: blob upload to storage, then until the upload was final, then until its event was consumed. */
  phases: { uploadSeconds: number; ingestSeconds: number; eventSeconds: number };
  status: UploadStatus;
  rowsCommitted: number;
  /** Latency of the Event Grid webhook answering the starter, 100 deliveries in flight at once. */
  starterP50Ms: number;
  starterP99Ms: number;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** The product path on this machine, as a user sees it: upload a blob, wait for the event to be consumed. */
export async function measureEndToEnd(options: { file: string; databaseUrl: string; dataDir: string }): Promise<EndToEnd> {
  const stack = await startLocalStack({
    appDir: packageRoot(), dataDir: options.dataDir, port: 0, eventHubsPort: 0, persistent: false, logLevel: 'warning',
    // The benchmark polls every 100 ms: far above the per-caller API limit, which is not what it measures.
    settings: { DATABASE_URL: options.databaseUrl, TASK_HUB_NAME: 'bench', API_RATE_LIMIT_PER_MINUTE: '1000000' },
  });
  const headers = { authorization: `Bearer ${await stack.issuer!.mint({ operator: true })}` };
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  try {
    const uploads = BlobServiceClient.fromConnectionString(stack.settings.UploadStorage!).getContainerClient('uploads');
    await uploads.createIfNotExists();
    const blobName = `be/${basename(options.file)}`;
    const started = process.hrtime.bigint();
    const uploaded = await uploads.getBlockBlobClient(blobName).uploadFile(options.file, { blockSize: 8 << 20, concurrency: 4 });
    const uploadedAt = process.hrtime.bigint();
    const uploadId = uploadIdOf({ state: 'BE', container: uploads.containerName, blobName, etag: uploaded.etag! });
    let status: UploadStatusBody | undefined;
    while (!status || !isFinal(status.status)) {
      await sleep(100);
      const response = await fetch(`${stack.url}/api/uploads/${uploadId}`, { headers });
      if (response.ok) status = (await response.json()) as UploadStatusBody;
    }
    const finalAt = process.hrtime.bigint();
    for (;;) {
      const { rowCount } = await pool.query('SELECT 1 FROM bulkflow.match_runs WHERE upload_id = $1', [uploadId]);
      if (rowCount || status.status !== 'complete') break;
      await sleep(50);
    }
    const consumedAt = process.hrtime.bigint();
    const seconds = Number(consumedAt - started) / 1e9;
    const span = (from: bigint, to: bigint) => Number(to - from) / 1e9;
    const phases = { uploadSeconds: span(started, uploadedAt), ingestSeconds: span(uploadedAt, finalAt), eventSeconds: span(finalAt, consumedAt) };
    const latencies = await starterLatencies(stack.url, uploads.url, 100);
    return {
      seconds, phases, status: status.status, rowsCommitted: status.rowsCommitted,
      starterP50Ms: percentile(latencies, 0.5), starterP99Ms: percentile(latencies, 0.99),
    };
  } finally {
    await pool.end();
    await stack.stop();
  }
}

/** 100 BlobCreated deliveries at once (distinct blob versions), as Event Grid sends them to the webhook. */
async function starterLatencies(hostUrl: string, containerUrl: string, count: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const event = {
        id: `bench-${i}`, topic: '/bench', subject: `/blobServices/default/containers/uploads/blobs/zz/starter-${i}.csv`,
        eventType: 'Microsoft.Storage.BlobCreated', eventTime: new Date().toISOString(), dataVersion: '', metadataVersion: '1',
        data: { api: 'PutBlob', eTag: `0x${i.toString(16)}`, contentLength: 100, url: `${containerUrl}/zz/starter-${i}.csv` },
      };
      const started = performance.now();
      const response = await fetch(`${hostUrl}/runtime/webhooks/EventGrid?functionName=blobCreatedStarter`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body: JSON.stringify([event]),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`starter answered HTTP ${response.status}`);
      return performance.now() - started;
    }),
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!);
}

export const e2eDataDir = (root: string) => join(root, '.data', `bench-stack-${process.pid}`);
