import { getUpload, identityOf, type ByteSource } from '../engine/index.js';
import { blobByteSource } from '../adapters/blobByteSource.js';
import { db, uploadStorage } from '../adapters/runtime.js';

const sources = new Map<string, ByteSource>();

/** The registered blob version of an upload, as a ByteSource (cached: every chunk of an upload reads the same blob). */
export async function uploadByteSource(uploadId: string): Promise<ByteSource> {
  const cached = sources.get(uploadId);
  if (cached) return cached;
  const upload = await getUpload(await db(), uploadId);
  if (!upload) throw new Error(`upload ${uploadId} is not registered`);
  const { container, blobName, etag } = identityOf(upload);
  const source = blobByteSource(uploadStorage().getContainerClient(container).getBlobClient(blobName), etag);
  if (sources.size > 1000) sources.clear();
  sources.set(uploadId, source);
  return source;
}
