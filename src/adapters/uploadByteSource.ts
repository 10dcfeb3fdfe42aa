import type { BlobServiceClient } from '@azure/storage-blob';
import type pg from 'pg';
import { getUpload, identityOf, type ByteSource } from '../engine/index.js';
import { blobByteSource } from './blobByteSource.js';

/**
 * An upload's registered blob version as a ByteSource, looked up by upload id. Cached: every chunk of an upload
 * reads the same blob, so it is looked up once per process.
 */
export function uploadByteSources(deps: { db: () => Promise<pg.Pool>; uploadStorage: () => BlobServiceClient }) {
  const sources = new Map<string, ByteSource>();
  return async function uploadByteSource(uploadId: string): Promise<ByteSource> {
    const cached = sources.get(uploadId);
    if (cached) return cached;
    const upload = await getUpload(await deps.db(), { uploadId });
    if (!upload) throw new Error(`upload ${uploadId} is not registered`);
    const { container, blobName, etag } = identityOf(upload);
    const source = blobByteSource(deps.uploadStorage().getContainerClient(container).getBlobClient(blobName), etag);
    if (sources.size > 1000) sources.clear();
    sources.set(uploadId, source);
    return source;
  };
}
