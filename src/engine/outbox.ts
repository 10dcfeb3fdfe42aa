import type { Queryable } from './db.js';

export const EVENT_SOURCE = '/bulkflow';
export const UPLOAD_COMPLETED = 'gov.bulkflow.upload.completed';
export const UPLOAD_FAILED = 'gov.bulkflow.upload.failed';

/** Ids and counts only: an event never carries row values. */
export interface UploadEventData {
  uploadId: string;
  state: string;
  source: string;
  status: string;
  activated: boolean;
  rowsTotal: number | null;
  rowsCommitted: number | null;
  rowsRejected: number | null;
  errorCode?: string;
  errorLine?: number;
  supersededBy?: string;
}

/** Writes the upload's completion CloudEvent in the caller's transaction; once per upload and type. */
export async function writeUploadEvent(
  db: Queryable,
  type: typeof UPLOAD_COMPLETED | typeof UPLOAD_FAILED,
  data: UploadEventData,
): Promise<void> {
  const suffix = type === UPLOAD_COMPLETED ? 'completed' : 'failed';
  await db.query(
    `INSERT INTO bulkflow.outbox (id, type, source, subject, data) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO NOTHING`,
    [`${data.uploadId}.${suffix}`, type, EVENT_SOURCE, `states/${data.state}/uploads/${data.uploadId}`, data],
  );
}
