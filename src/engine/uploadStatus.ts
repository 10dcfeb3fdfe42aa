/** An upload's lifecycle, as `bulkflow.uploads.status` allows it: pending -> running -> complete | failed | superseded. */
export type UploadStatus = 'pending' | 'running' | FinalStatus;

/** Where an upload ends: it never changes again (superseded: replaced by, or older than, another upload of its state). */
export type FinalStatus = 'complete' | 'failed' | 'superseded';

export function isFinal(status: UploadStatus): status is FinalStatus {
  return status === 'complete' || status === 'failed' || status === 'superseded';
}
