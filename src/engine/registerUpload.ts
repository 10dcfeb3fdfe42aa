import type pg from 'pg';
import { identityOf, registeredAs, type UploadIdentity, type UploadSource } from './uploadIdentity.js';
import type { UploadStatus } from './uploadStatus.js';

export interface Registration {
  uploadId: string;
  status: UploadStatus;
  /** False when this blob version was registered before (a redelivered event). */
  created: boolean;
}

/** Creates the upload row once per blob version; later calls return the existing one. */
export async function registerUpload(pool: pg.Pool, upload: UploadIdentity | UploadSource): Promise<Registration> {
  const { uploadId, state, source, etag } = registeredAs(upload);
  const inserted = await pool.query<{ status: UploadStatus }>(
    `INSERT INTO bulkflow.uploads (upload_id, state, source, etag) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING RETURNING status`,
    [uploadId, state, source, etag],
  );
  if (inserted.rows[0]) return { uploadId, status: inserted.rows[0].status, created: true };
  const existing = await pool.query<{ status: UploadStatus }>('SELECT status FROM bulkflow.uploads WHERE upload_id = $1', [uploadId]);
  return { uploadId, status: existing.rows[0]!.status, created: false };
}

/** The blob version an upload was registered for: the inverse of registering a blob. */
export async function registeredBlob(pool: pg.Pool, uploadId: string): Promise<UploadIdentity> {
  const { rows } = await pool.query<UploadSource>('SELECT state, source, etag FROM bulkflow.uploads WHERE upload_id = $1', [uploadId]);
  if (!rows[0]) throw new Error(`upload ${uploadId} is not registered`);
  return identityOf(rows[0]);
}
