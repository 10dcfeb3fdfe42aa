import type pg from 'pg';
import { registeredAs, type UploadIdentity, type UploadSource } from './uploadIdentity.js';
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
