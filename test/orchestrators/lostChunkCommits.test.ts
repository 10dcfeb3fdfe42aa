import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { makeActivateUploadActivity } from '../../src/activities/activateUploadActivity.js';
import { makeCommitChunkActivity } from '../../src/activities/commitChunkActivity.js';
import { makeFailUploadActivity } from '../../src/activities/failUploadActivity.js';
import { makePlanUploadActivity } from '../../src/activities/planUploadActivity.js';
import { makeRegisterUploadActivity } from '../../src/activities/registerUploadActivity.js';
import { uploadTable } from '../../src/engine/db.js';
import { getUpload, normalizeIdentity } from '../../src/engine/index.js';
import { functionNames } from '../../src/functionNames.js';
import type { CommitInput, FailInput, IngestInput, IngestOutput, IngestStatus } from '../../src/ingestContracts.js';
import { useAppClients } from '../support/appClients.js';
import { useEngineDatabase } from '../support/engineDatabase.js';
import { runOrchestration, type Call } from '../support/orchestration.js';
import { useUploadStorage } from '../support/uploadStorage.js';
import { CSV_HEADER, hashOf, validRows } from '../support/uploads.js';

const ROWS = 3000;
/** Every 50th row has a hash too short: each chunk of ~16 KiB (~115 rows) holds rejected rows and their error rows. */
const BAD_EVERY = 50;
const BAD = ROWS / BAD_EVERY;
const LOST = 2;

/** 3,000 data rows, 60 of them rejected. */
function csv(): string {
  let out = `${CSV_HEADER}\n`;
  for (let i = 0; i < ROWS; i++) out += i % BAD_EVERY === BAD_EVERY - 1 ? `${hashOf(i).slice(1)},P${i},C${i}\n` : validRows(i, i + 1);
  return out;
}

// A database that comes back with a prefix of its WAL (a failover to a replica that was behind, or a crash after
// commits that did not wait for their flush) can lose the last few chunk commits, each whole, after the orchestration saw them
// succeed. The test loses one the way recovery would (its rows, its error rows and its ledger row, nothing else) and
// runs the real orchestrator (durable replay) with the real activities on PostgreSQL and Azurite.
describe('a chunk commit lost after the orchestration saw it succeed', () => {
  const engine = useEngineDatabase();
  const storage = useUploadStorage();
  const app = useAppClients(engine, storage, { INGEST_CHUNK_BYTES: '16384' });

  /** What a crash loses of one committed chunk: its rows, its error rows and its ledger row (one transaction). */
  async function loseChunk(uploadId: string, chunkNo: number): Promise<{ rows_committed: number; rows_rejected: number }> {
    const { rows: [chunk] } = await engine.pool.query<{ first_line: number; next_line: number | null }>(
      `SELECT first_line, lead(first_line) OVER (ORDER BY chunk_no) AS next_line FROM bulkflow.upload_chunks WHERE upload_id = $1 ORDER BY chunk_no OFFSET $2 LIMIT 1`,
      [uploadId, chunkNo],
    );
    const lines = [chunk!.first_line, chunk!.next_line ?? 2 ** 31 - 1];
    const rows = await engine.pool.query(`DELETE FROM ${uploadTable(uploadId).qualified} WHERE line >= $1 AND line < $2`, lines);
    expect(rows.rowCount).toBeGreaterThan(0);
    const errors = await engine.pool.query('DELETE FROM bulkflow.row_errors WHERE upload_id = $1 AND line >= $2 AND line < $3', [uploadId, ...lines]);
    expect(errors.rowCount).toBeGreaterThan(0);
    const ledger = await engine.pool.query<{ rows_committed: number; rows_rejected: number }>(
      'DELETE FROM bulkflow.chunk_ledger WHERE upload_id = $1 AND chunk_no = $2 RETURNING rows_committed, rows_rejected', [uploadId, chunkNo],
    );
    expect(ledger.rows).toEqual([{ rows_committed: rows.rowCount, rows_rejected: errors.rowCount }]);
    return ledger.rows[0]!;
  }

  /** Ingests `blobName` through ingestOrchestrator; `beforeActivation(round)` runs before each activation. */
  async function ingest(blobName: string, beforeActivation: (uploadId: string, round: number) => Promise<void>) {
    const body = csv();
    const uploaded = await storage.uploads.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body));
    // As the blob event starter hands it over.
    const input: IngestInput = normalizeIdentity({ state: 'CA', container: 'uploads', blobName, etag: uploaded.etag! });
    const context = () => new InvocationContext({ functionName: 'test', logHandler: () => {} });
    const activities: Record<string, (input: never, context: InvocationContext) => Promise<unknown>> = {
      registerUpload: makeRegisterUploadActivity(app()),
      planUpload: makePlanUploadActivity(app()),
      commitChunk: makeCommitChunkActivity(app()),
      activateUpload: makeActivateUploadActivity(app()),
      failUpload: makeFailUploadActivity(app()),
    };
    let activations = 0;
    const run = await runOrchestration<IngestOutput>(functionNames.ingestOrchestrator, {
      input,
      instanceId: `ingest-${blobName}`,
      answer: async (call: Call) => {
        if (call.name === 'publishOutbox') return { published: 0, pending: 1 };
        if (call.name === 'deleteUploadBlob') return 'deleted';
        if (call.name === 'activateUpload') await beforeActivation((call.input as { uploadId: string }).uploadId, ++activations);
        return activities[call.name]!(call.input as never, context());
      },
    });
    const commits = run.calls.filter((call) => call.name === 'commitChunk').map((call) => (call.input as CommitInput).chunkNo);
    return { ...run, commits, names: run.calls.map((call) => call.name) };
  }

  it('commits the lost chunk once more and activates with every row, its rejected rows and error rows', async () => {
    let lost = { rows_committed: 0, rows_rejected: 0 };
    const run = await ingest('ca/lost-once.csv', async (uploadId, round) => {
      if (round === 1) lost = await loseChunk(uploadId, LOST);
    });
    const { uploadId, chunksTotal } = run.output;
    expect(chunksTotal).toBeGreaterThan(LOST + 1);
    expect(run.output).toMatchObject({ status: 'complete', rowsCommitted: ROWS - BAD, rowsRejected: BAD });
    expect(run.names.filter((name) => name === 'activateUpload')).toHaveLength(2);
    expect(run.names).not.toContain('failUpload');
    // Every chunk once, then the lost one again.
    expect(run.commits).toEqual([...Array.from({ length: chunksTotal }, (_, chunkNo) => chunkNo), LOST]);

    const { rows: [held] } = await engine.pool.query<{ n: number; distinct_lines: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT line)::int AS distinct_lines FROM bulkflow.active_participants WHERE upload_id = $1`, [uploadId],
    );
    expect(held).toEqual({ n: ROWS - BAD, distinct_lines: ROWS - BAD });
    const { rows: [errors] } = await engine.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.row_errors WHERE upload_id = $1', [uploadId]);
    expect(errors!.n).toBe(BAD);
    const ledger = await engine.pool.query<{ chunk_no: number }>('SELECT chunk_no FROM bulkflow.chunk_ledger WHERE upload_id = $1 ORDER BY chunk_no', [uploadId]);
    expect(ledger.rows.map((row) => row.chunk_no)).toEqual(Array.from({ length: chunksTotal }, (_, chunkNo) => chunkNo));
    expect(await getUpload(engine.pool, { uploadId })).toMatchObject({ status: 'complete', rowsCommitted: ROWS - BAD, rowsRejected: BAD });

    // Progress went back to what the ledger held without the chunk, then counted it once more: never past the totals.
    const statuses = run.statuses as IngestStatus[];
    for (const status of statuses) {
      expect(status.chunksDone).toBeLessThanOrEqual(chunksTotal);
      expect(status.rowsCommitted + status.rowsRejected).toBeLessThanOrEqual(ROWS);
    }
    const activating = statuses.findIndex((status) => status.phase === 'activating');
    const again = statuses.findIndex((status, i) => i > activating && status.phase === 'committing');
    expect(activating).toBeGreaterThan(0);
    expect(statuses[activating]).toMatchObject({ chunksDone: chunksTotal, rowsCommitted: ROWS - BAD, rowsRejected: BAD });
    expect(statuses[again]).toMatchObject({
      chunksDone: chunksTotal - 1, rowsCommitted: ROWS - BAD - lost.rows_committed, rowsRejected: BAD - lost.rows_rejected,
    });
    expect(statuses[again + 1]).toMatchObject({ phase: 'activating', chunksDone: chunksTotal, rowsCommitted: ROWS - BAD, rowsRejected: BAD });
  });

  it('fails the upload with the chunk named when its commit is lost at every activation', async () => {
    const run = await ingest('ca/lost-always.csv', async (uploadId) => {
      await loseChunk(uploadId, LOST);
    });
    const { uploadId } = run.output;
    expect(run.output.status).toBe('failed');
    expect(run.names.filter((name) => name === 'activateUpload')).toHaveLength(3);
    expect(run.commits.filter((chunkNo) => chunkNo === LOST)).toHaveLength(3);
    const fail = run.calls.find((call) => call.name === 'failUpload')!.input as FailInput;
    expect(fail).toMatchObject({ uploadId, code: 'chunks_lost' });
    expect(fail.message).toBe(`1 chunk(s) (${LOST}) were missing at each of 3 activations: their commits were lost`);
    expect(await getUpload(engine.pool, { uploadId })).toMatchObject({ status: 'failed' });
    const { rows: [active] } = await engine.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.active_uploads WHERE upload_id = $1', [uploadId]);
    expect(active!.n).toBe(0);
  });
});
