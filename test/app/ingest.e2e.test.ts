import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import { blobSource } from '../../src/engine/index.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { useTestStack, waitFor } from '../support/localStack.js';
import { finalStatus } from '../support/uploads.js';
import { checkedFetch } from '../support/contract.js';

describe('ingest end to end through the local host', () => {
  const t = useTestStack({ INGEST_CHUNK_BYTES: String(1 << 20) });

  it('ingests 100k rows with 1 % bad rows: complete, every bad row reported by line and column', async () => {
    const file = join(t.stack.dataDir, `e2e-${process.pid}.csv`);
    const generated = await generateParticipantsCsv(file, {
      rows: 100_000, badShare: 0.01, seed: 7, badKinds: ['lds_hash_format', 'closing_date_invalid', 'boolean_invalid', 'field_count'],
    });
    await t.uploads.getBlockBlobClient('ca/happy.csv').uploadFile(file);

    const status = await finalStatus(t, 'ca/happy.csv');
    expect(status).toMatchObject({ status: 'complete', state: 'CA', isActive: true, rowsTotal: 100_000, percent: 100 });
    expect(status.rowsRejected).toBe(generated.badRows);
    expect(status.rowsCommitted).toBe(100_000 - generated.badRows);
    expect(status.chunksDone).toBe(status.chunksTotal);
    expect(status.chunksTotal).toBeGreaterThan(10);

    const active = await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE state = 'CA'`);
    expect(active.rows[0]!.n).toBe(status.rowsCommitted);

    // Page through the errors API with its cursor: every bad row once, in line order.
    type Page = { errors: Array<{ line: number; column: string | null; code: string; message: string }>; next: string | null };
    const errors: Page['errors'] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = (await (await t.api(`${status.links.errors}?limit=500${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`)).json()) as Page;
      errors.push(...page.errors);
      cursor = page.next;
    }
    expect(new Set(errors.map((e) => e.line)).size).toBe(generated.badRows);
    expect(errors.map((e) => e.line)).toEqual([...errors.map((e) => e.line)].sort((a, b) => a - b));
    for (const error of errors) {
      expect(error.line).toBeGreaterThan(1);
      expect(error.message).not.toMatch(/[0-9a-f]{128}/i);
    }

    // The orchestration finishes after activation: it still publishes the completion event.
    const instance = await waitFor('the orchestration to complete', async () => {
      const body = (await (await checkedFetch(`${t.url}${status.links.orchestration}`)).json()) as { runtimeStatus: string; output: { status: string } };
      return body.runtimeStatus === 'Running' || body.runtimeStatus === 'Pending' ? undefined : body;
    });
    expect(instance.runtimeStatus).toBe('Completed');
    expect(instance.output.status).toBe('complete');
  });

  it('answers the same BlobCreated delivered 10 times (concurrently and after completion) with one upload', async () => {
    const file = join(t.stack.dataDir, `e2e-dup-${process.pid}.csv`);
    await generateParticipantsCsv(file, { rows: 5_000, seed: 11 });
    const blob = t.uploads.getBlockBlobClient('tx/dup.csv');
    const uploaded = await blob.uploadFile(file);
    const event = {
      id: 'evt-dup', topic: '/local', subject: '/blobServices/default/containers/uploads/blobs/tx/dup.csv',
      eventType: 'Microsoft.Storage.BlobCreated', eventTime: new Date().toISOString(), dataVersion: '', metadataVersion: '1',
      data: { api: 'PutBlob', eTag: uploaded.etag, contentLength: 1, url: blob.url, blobType: 'BlockBlob' },
    };
    const deliver = () => checkedFetch(`${t.url}/runtime/webhooks/EventGrid?functionName=blobCreatedStarter`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body: JSON.stringify([event]),
    });
    const first = await Promise.all(Array.from({ length: 10 }, deliver));
    expect(first.map((r) => r.status).every((s) => s >= 200 && s < 300)).toBe(true);
    const status = await finalStatus(t, 'tx/dup.csv');
    const instance = async () =>
      (await checkedFetch(`${t.url}/runtime/webhooks/durabletask/instances/${status.instanceId}`)).json() as Promise<{ runtimeStatus: string; createdTime: string; output: unknown }>;
    // The upload is final before its orchestration is (it still publishes the completion event).
    const finished = await waitFor('the orchestration to complete', async () => {
      const current = await instance();
      return current.runtimeStatus === 'Completed' ? current : undefined;
    });
    const again = await Promise.all(Array.from({ length: 10 }, deliver));
    expect(again.map((r) => r.status).every((s) => s >= 200 && s < 300)).toBe(true);
    // Redeliveries after completion leave the finished orchestration as it was (a start would replace an ended instance).
    expect(await instance()).toEqual(finished);

    expect(status.rowsCommitted).toBe(5_000);
    const uploads = await t.pool.query('SELECT upload_id FROM bulkflow.uploads WHERE source = $1', [blobSource('uploads', 'tx/dup.csv')]);
    expect(uploads.rowCount).toBe(1);
    const rows = await t.pool.query<{ n: number; d: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT participant_id)::int AS d FROM bulkflow.active_participants WHERE state = 'TX'`,
    );
    expect(rows.rows[0]).toEqual({ n: 5_000, d: 5_000 });
    const list = await checkedFetch(`${t.url}/runtime/webhooks/durabletask/instances?instanceIdPrefix=ingest-tx-`);
    const instances = (await list.json()) as Array<{ instanceId: string }>;
    expect(instances.map((i) => i.instanceId)).toEqual([status.instanceId]);
  });

  it('reports 404 and 400 as problem details', async () => {
    const missing = await t.api(`/api/uploads/zz-0000`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    const badState = await t.api(`/api/states/california/uploads`);
    expect(badState.status).toBe(400);
    const badLimit = await t.api(`/api/states/ca/uploads?limit=0`);
    expect(badLimit.status).toBe(400);
    const list = (await (await t.api(`/api/states/ca/uploads`)).json()) as { activeUploadId: string; uploads: UploadStatusBody[] };
    expect(list.uploads[0]!.uploadId).toBe(list.activeUploadId);
  });
});
