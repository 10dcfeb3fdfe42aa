import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { uploadBlobRemover } from '../../src/adapters/uploadBlobRemover.js';
import { blobSource } from '../../src/engine/index.js';
import { purgeOutbox } from '../../src/engine/outboxDelivery.js';
import { deleteUploadBlob, sweepUploadBlobs } from '../../src/engine/rawFileRetention.js';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { useUploadStorage } from '../support/uploadStorage.js';
import { CSV_HEADER, validRows } from '../support/uploads.js';

const HOUR_MS = 3_600_000;

/** Deleting uploaded files against real Azurite and PostgreSQL: what is due, what storage refuses, what stays. */
describe('raw file retention', () => {
  const engine = useEngineDatabase();
  const storage = useUploadStorage();

  /** A blob in Azurite and its upload, ingested to a final state (the engine as the app drives it). */
  async function finalUpload(name: string, from: number, content?: string) {
    const body = content ?? `${CSV_HEADER}\n${validRows(from, from + 20)}`;
    const etag = (await storage.uploads.getBlockBlobClient(name).upload(body, Buffer.byteLength(body))).etag!.replaceAll('"', '');
    const { uploadId, activation } = await ingest(engine.pool, body, { state: name.slice(0, 2), source: blobSource('uploads', name), etag });
    return { uploadId, status: activation?.status };
  }
  const exists = (name: string) => storage.uploads.getBlobClient(name).exists();
  const deletedAt = async (uploadId: string) =>
    (await engine.pool.query<{ at: Date | null }>('SELECT blob_deleted_at AS at FROM bulkflow.uploads WHERE upload_id = $1', [uploadId])).rows[0]!.at;

  it('deletes at final when the retention is 0, and keeps the file until a retention has passed', async () => {
    const remove = uploadBlobRemover(BlobServiceClient.fromConnectionString(storage.azurite.connectionString));
    const kept = await finalUpload('ak/kept.csv', 0);
    expect(kept.status).toBe('complete');
    expect(await deleteUploadBlob(engine.pool, kept.uploadId, remove, { retentionMs: 24 * HOUR_MS })).toBe('not-due');
    expect(await sweepUploadBlobs(engine.pool, remove, { retentionMs: 24 * HOUR_MS })).toEqual({ removed: 0, failed: 0 });
    expect(await exists('ak/kept.csv')).toBe(true);
    expect(await deletedAt(kept.uploadId)).toBeNull();

    expect(await deleteUploadBlob(engine.pool, kept.uploadId, remove, { retentionMs: 0 })).toBe('deleted');
    expect(await exists('ak/kept.csv')).toBe(false);
    expect(await deletedAt(kept.uploadId)).toBeInstanceOf(Date);
    // Done once: a second call (a replayed activity) finds nothing due.
    expect(await deleteUploadBlob(engine.pool, kept.uploadId, remove, { retentionMs: 0 })).toBe('not-due');
  });

  it('leaves an upload in flight alone, and a newer file at the same name (another upload\'s) in place', async () => {
    const remove = uploadBlobRemover(BlobServiceClient.fromConnectionString(storage.azurite.connectionString));
    const body = `${CSV_HEADER}\n${validRows(100, 110)}`;
    const etag = (await storage.uploads.getBlockBlobClient('hi/flight.csv').upload(body, body.length)).etag!.replaceAll('"', '');
    const flight = await ingest(engine.pool, body, { state: 'HI', source: blobSource('uploads', 'hi/flight.csv'), etag, skipActivation: true });
    expect(await deleteUploadBlob(engine.pool, flight.uploadId, remove, { retentionMs: 0 })).toBe('not-due');
    expect(await exists('hi/flight.csv')).toBe(true);

    const replaced = await finalUpload('al/replaced.csv', 200);
    const newer = `${CSV_HEADER}\n${validRows(300, 301)}`;
    await storage.uploads.getBlockBlobClient('al/replaced.csv').upload(newer, newer.length);
    expect(await deleteUploadBlob(engine.pool, replaced.uploadId, remove, { retentionMs: 0 })).toBe('gone');
    expect(await exists('al/replaced.csv')).toBe(true);
    expect(await deletedAt(replaced.uploadId)).toBeInstanceOf(Date);
  });

  it('counts a deletion storage refuses (a lease) as failed, keeps it due, and deletes it on a later sweep', async () => {
    const remove = uploadBlobRemover(BlobServiceClient.fromConnectionString(storage.azurite.connectionString));
    const leased = await finalUpload('co/leased.csv', 400);
    const lease = storage.uploads.getBlobClient('co/leased.csv').getBlobLeaseClient();
    await lease.acquireLease(-1);
    await expect(deleteUploadBlob(engine.pool, leased.uploadId, remove, { retentionMs: 0 })).rejects.toThrow(/co\/leased\.csv: storage answered LeaseIdMissing/);
    expect(await sweepUploadBlobs(engine.pool, remove, { retentionMs: 0 })).toEqual({ removed: 0, failed: 1 });
    expect(await deletedAt(leased.uploadId)).toBeNull();
    await lease.releaseLease();
    expect(await sweepUploadBlobs(engine.pool, remove, { retentionMs: 0 })).toEqual({ removed: 1, failed: 0 });
    expect(await exists('co/leased.csv')).toBe(false);
    expect(await deletedAt(leased.uploadId)).toBeInstanceOf(Date);
  });

  it('purges delivered outbox events after their retention and never an undelivered one', async () => {
    await engine.pool.query(`UPDATE bulkflow.outbox SET published_at = now() - interval '8 days' WHERE seq = (SELECT min(seq) FROM bulkflow.outbox)`);
    const before = await engine.pool.query<{ delivered: number; waiting: number }>(
      `SELECT count(*) FILTER (WHERE published_at IS NOT NULL)::int AS delivered, count(*) FILTER (WHERE published_at IS NULL)::int AS waiting FROM bulkflow.outbox`,
    );
    expect(before.rows[0]!.delivered).toBe(1);
    expect(before.rows[0]!.waiting).toBeGreaterThan(0);
    expect(await purgeOutbox(engine.pool, 7 * 24 * HOUR_MS)).toBe(1);
    const after = await engine.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.outbox WHERE published_at IS NULL');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.waiting);
  });
});
