import { appendFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * One committed blob version, as Azure's storage system topic reports it in a BlobCreated event. Azurite raises no
 * events and keeps no versions: listing blobs sees only the newest version, so an overwrite between two listings
 * went unannounced. The Azurite process therefore writes one line per successful committing request to a journal
 * (see `observeCommits`), whatever client made it.
 */
export interface BlobCommit {
  /** PutBlob, PutBlockList or CopyBlob, as in the event's `data.api`. */
  api: string;
  container: string;
  /** The blob's name, decoded. */
  blob: string;
  /** Without quotes. */
  etag: string;
  lastModified: string;
  contentType: string;
  /** Known from the request for PutBlob only; otherwise read back afterwards. */
  contentLength?: number;
  blobType: string;
  requestId: string;
}

/** Where an Azurite location keeps its commit journal. */
export const commitJournalName = 'bulkflow-commits.jsonl';

/**
 * Appends a line to `journalPath` for every request to the blob service `server` that committed a blob version:
 * Put Blob (201), Put Block List (201), Copy Blob (202, Azurite copies at once). Read from the request and the
 * response's headers only, so it holds for any client, and a conditional write that was refused is not a commit.
 * Appended synchronously, in the order Azurite answered.
 */
export function observeCommits(server: Server, journalPath: string): void {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'PUT') return;
    const url = new URL(request.url ?? '/', 'http://azurite');
    const comp = url.searchParams.get('comp');
    const copySource = request.headers['x-ms-copy-source'];
    const blobType = header(request, 'x-ms-blob-type');
    const api = comp === 'blocklist' ? 'PutBlockList' : comp !== null ? undefined : copySource && !blobType ? 'CopyBlob' : blobType ? 'PutBlob' : undefined;
    if (!api) return;
    response.once('finish', () => {
      if (response.statusCode !== (api === 'CopyBlob' ? 202 : 201)) return;
      // Path-style URLs: /account/container/blob/name...
      const [, , container, ...name] = url.pathname.split('/');
      if (!container || name.length === 0) return;
      const commit: BlobCommit = {
        api,
        container: decodeURIComponent(container),
        blob: decodeURIComponent(name.join('/')),
        etag: String(response.getHeader('etag') ?? '').replace(/^"|"$/g, ''),
        lastModified: new Date(String(response.getHeader('last-modified') ?? Date.now())).toISOString(),
        contentType: header(request, 'x-ms-blob-content-type') ?? (api === 'PutBlob' ? header(request, 'content-type') : undefined) ?? 'application/octet-stream',
        ...(api === 'PutBlob' && !copySource ? { contentLength: Number(header(request, 'x-ms-blob-content-length') ?? header(request, 'content-length') ?? 0) } : {}),
        blobType: blobType ?? 'BlockBlob',
        requestId: String(response.getHeader('x-ms-request-id') ?? ''),
      };
      appendFileSync(journalPath, `${JSON.stringify(commit)}\n`);
    });
  });
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
