import { describe, expect, it } from 'vitest';
import { blobSource } from '../../src/engine/index.js';
import { functionNames } from '../../src/functionNames.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { useTestStack, waitFor } from '../support/localStack.js';
import { allRowErrors, CSV_HEADER, finalStatus, getJson, putBlob, validRows } from '../support/uploads.js';
import { checkedFetch } from '../support/contract.js';

/**
 * Raw uploads are personal data: each file is deleted from storage when its upload is final (complete, failed or
 * superseded), while the upload's status and row errors stay readable. Through the local stack: real Azurite, the
 * real durable-functions replay, a real lease standing in for storage refusing the deletion.
 */
describe('raw file retention (UPLOAD_BLOB_RETENTION_HOURS=0)', () => {
  // Small chunks, one at a time: the older of two uploads of a state is still committing when the newer activates.
  const t = useTestStack({ INGEST_CHUNK_BYTES: String(16 * 1024), INGEST_MAX_CHUNKS_IN_FLIGHT: '1' });

  const blobExists = (name: string) => t.uploads.getBlobClient(name).exists();
  const deleted = (name: string) => waitFor(`${name} to be deleted`, async () => ((await blobExists(name)) ? undefined : true), 90_000);
  const blobDeletedAt = async (uploadId: string) =>
    (await t.pool.query<{ blob_deleted_at: Date | null }>('SELECT blob_deleted_at FROM bulkflow.uploads WHERE upload_id = $1', [uploadId])).rows[0]!
      .blob_deleted_at;
  const orchestration = (status: UploadStatusBody) =>
    waitFor('the orchestration to finish', async () => {
      const body = (await (await checkedFetch(`${t.url}${status.links.orchestration}?showHistory=true`)).json()) as {
        runtimeStatus: string;
        output: { status: string };
        historyEvents: Array<{ EventType: string; FunctionName?: string }>;
      };
      return body.runtimeStatus === 'Running' || body.runtimeStatus === 'Pending' ? undefined : body;
    });

  it('deletes a complete upload\'s file; its status and errors stay readable, and a redelivered or late event changes nothing', async () => {
    const name = 'wa/complete.csv';
    const etag = await putBlob(t, name, `${CSV_HEADER}\n${validRows(0, 200)}not-a-hash,P999,C999\n`);
    const status = await finalStatus(t, name);
    expect(status).toMatchObject({ status: 'complete', rowsCommitted: 200, rowsRejected: 1 });
    await deleted(name);
    expect(await blobDeletedAt(status.uploadId)).toBeInstanceOf(Date);
    expect((await orchestration(status)).runtimeStatus).toBe('Completed');

    const read = await getJson<UploadStatusBody>(t, `/api/uploads/${status.uploadId}`);
    expect(read).toMatchObject({ uploadId: status.uploadId, status: 'complete', rowsCommitted: 200, rowsRejected: 1 });
    expect((await allRowErrors(t, read)).map((e) => [e.line, e.column, e.code])).toEqual([[202, 'lds_hash', expect.any(String)]]);

    // Event Grid redelivers the same event: the instance exists, nothing starts.
    const blob = t.uploads.getBlockBlobClient(name);
    const event = {
      id: 'evt-late', topic: '/local', subject: `/blobServices/default/containers/uploads/blobs/${name}`,
      eventType: 'Microsoft.Storage.BlobCreated', eventTime: new Date().toISOString(), dataVersion: '', metadataVersion: '1',
      data: { api: 'PutBlob', eTag: etag, contentLength: 1, url: blob.url, blobType: 'BlockBlob' },
    };
    const deliver = () =>
      checkedFetch(`${t.url}/runtime/webhooks/EventGrid?functionName=${functionNames.blobCreatedStarter}`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body: JSON.stringify([event]),
      });
    expect((await deliver()).status).toBeLessThan(300);

    // A late event after the history was purged starts the orchestration again: it finds the final upload and ends
    // at once, without reading the missing file or failing anything.
    expect((await checkedFetch(`${t.url}/runtime/webhooks/durabletask/instances/${status.instanceId}`, { method: 'DELETE' })).status).toBe(200);
    expect((await deliver()).status).toBeLessThan(300);
    const again = await waitFor('the late event\'s orchestration', async () => {
      const response = await checkedFetch(`${t.url}${status.links.orchestration}`);
      if (response.status === 404) return undefined;
      const body = (await response.json()) as { runtimeStatus: string; output: { status: string; chunksTotal: number } };
      return body.runtimeStatus === 'Completed' || body.runtimeStatus === 'Failed' ? body : undefined;
    });
    expect(again.runtimeStatus).toBe('Completed');
    expect(again.output).toMatchObject({ status: 'complete', chunksTotal: 0 });
    expect(await getJson<UploadStatusBody>(t, `/api/uploads/${status.uploadId}`)).toMatchObject({ status: 'complete', rowsCommitted: 200, isActive: true });
    const uploads = await t.pool.query('SELECT upload_id FROM bulkflow.uploads WHERE source = $1', [blobSource('uploads', name)]);
    expect(uploads.rowCount).toBe(1);
    expect(await blobExists(name)).toBe(false);
  });

  it('deletes a failed upload\'s file, and the reason and row errors stay readable', async () => {
    const name = 'or/failed.csv';
    await putBlob(t, name, `${CSV_HEADER}\n${'not-a-hash,P1,C1\n'.repeat(50)}`);
    const status = await finalStatus(t, name);
    expect(status.status).toBe('failed');
    await deleted(name);
    expect(await blobDeletedAt(status.uploadId)).toBeInstanceOf(Date);
    const read = await getJson<UploadStatusBody>(t, `/api/uploads/${status.uploadId}`);
    expect(read.status).toBe('failed');
    expect(read.error).toBeTruthy();
    expect(await allRowErrors(t, read)).toHaveLength(50);
  });

  it('deletes the files of a superseded upload and of the one that superseded it', async () => {
    const older = 'nv/older.csv';
    const newer = 'nv/newer.csv';
    await putBlob(t, older, `${CSV_HEADER}\n${validRows(0, 3_000)}`);
    // The newer upload registers after the older one, which is still committing its chunks one at a time.
    await waitFor('the older upload to be registered', async () => {
      const response = await t.api(`/api/uploads?blob=${encodeURIComponent(older)}`);
      return response.ok ? true : undefined;
    });
    await putBlob(t, newer, `${CSV_HEADER}\n${validRows(5_000, 5_010)}`);
    const newerStatus = await finalStatus(t, newer);
    const olderStatus = await finalStatus(t, older);
    expect(newerStatus).toMatchObject({ status: 'complete', isActive: true });
    expect(olderStatus.status).toBe('superseded');
    await deleted(older);
    await deleted(newer);
    expect(await blobDeletedAt(olderStatus.uploadId)).toBeInstanceOf(Date);
    expect((await getJson<UploadStatusBody>(t, `/api/uploads/${olderStatus.uploadId}`)).status).toBe('superseded');
  });

  it('retries a deletion storage refuses (a lease on the blob) until it succeeds, without changing the outcome', async () => {
    const name = 'id/leased.csv';
    await putBlob(t, name, `${CSV_HEADER}\n${validRows(0, 100)}`);
    // A 15-second lease (the shortest storage grants): deleting without its id fails until it expires.
    await t.uploads.getBlobClient(name).getBlobLeaseClient().acquireLease(15);
    const status = await finalStatus(t, name);
    expect(status).toMatchObject({ status: 'complete', rowsCommitted: 100 });
    await deleted(name);
    const instance = await orchestration(status);
    expect(instance.runtimeStatus).toBe('Completed');
    expect(instance.output.status).toBe('complete');
    const attempts = instance.historyEvents.filter((e) => e.FunctionName === functionNames.deleteUploadBlob);
    expect(attempts.filter((e) => e.EventType === 'TaskFailed').length).toBeGreaterThanOrEqual(1);
    expect(attempts.at(-1)!.EventType).toBe('TaskCompleted');
    expect(await blobDeletedAt(status.uploadId)).toBeInstanceOf(Date);
    expect((await getJson<UploadStatusBody>(t, `/api/uploads/${status.uploadId}`)).status).toBe('complete');
  });
});
