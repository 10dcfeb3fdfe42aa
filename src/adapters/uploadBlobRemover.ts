import type { BlobServiceClient } from '@azure/storage-blob';
import { type BlobRemover, identityOf } from '../engine/index.js';

/**
 * Deletes an upload's raw file, only the version it was registered with (If-Match on its eTag): a newer file at
 * the same name is another upload's and stays. Not found, or replaced, means there is nothing of ours left.
 * Anything else (a lease on the blob, storage unreachable) throws, so the deletion is tried again.
 */
export function uploadBlobRemover(storage: BlobServiceClient): BlobRemover {
  return async (blob) => {
    const { container, blobName, etag } = identityOf(blob);
    try {
      await storage.getContainerClient(container).getBlobClient(blobName).delete({ deleteSnapshots: 'include', conditions: { ifMatch: `"${etag}"` } });
      return 'deleted';
    } catch (error) {
      const { statusCode, code } = error as { statusCode?: number; code?: string };
      if (statusCode === 404 || (statusCode === 412 && code === 'ConditionNotMet')) return 'gone';
      throw new Error(`delete ${container}/${blobName}: storage answered ${code ?? statusCode ?? 'nothing (unreachable)'}`);
    }
  };
}
