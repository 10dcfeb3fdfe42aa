/** An upload's lifecycle, as `bulkflow.uploads.status` allows it: pending -> running -> complete | failed | superseded. */
export const UPLOAD_STATUSES = ['pending', 'running', 'complete', 'failed', 'superseded'] as const;
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

/** Where an upload ends: it never changes again (superseded: replaced by, or older than, another upload of its state). */
export type FinalStatus = Exclude<UploadStatus, 'pending' | 'running'>;

export function isFinal(status: UploadStatus): status is FinalStatus {
  return status === 'complete' || status === 'failed' || status === 'superseded';
}
