import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './bulkflowApi.js';

/**
 * A client of the upload API, as a state's own system would write one: a file up to the server's part size in one
 * PUT; a larger one in parts (several at once), resuming an upload of the same file that is already open on the
 * server, so a run after Ctrl-C or a lost connection sends only what the server does not hold yet.
 */
export interface UploadOptions {
  /** The API's base URL (`http://127.0.0.1:7071`). */
  baseUrl: string;
  state: string;
  file: string;
  /** The name the file is stored as (letters, digits, ".", "_" and "-", ending in .csv). */
  fileName: string;
  token: string;
  /** Parts sent at once (default 4). */
  parallel?: number;
  signal?: AbortSignal;
  /** Bytes this run sent so far, and what the server held when it began. */
  onProgress?: (progress: { sentBytes: number; resumedBytes: number; totalBytes: number; phase: 'hashing' | 'uploading' | 'committing' }) => void;
}

export interface UploadResult {
  uploadId: string;
  instanceId: string;
  statusUrl: string;
  /** What this run sent (parts re-sent after a cut count again). */
  uploadBytes: number;
  /** What the server already held when this run began. */
  resumedBytes: number;
  parts: number;
}

/** A resumable upload as the API describes it (types generated from its OpenAPI document). */
export type SessionBody = components['schemas']['UploadSession'];

/** Answers worth trying again: the connection, the server or the rate limit, not the request itself. */
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const ATTEMPTS = 6;

export class UploadError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export async function uploadFile(options: UploadOptions): Promise<UploadResult> {
  const { size } = await stat(options.file);
  const api = createClient<paths>({ baseUrl: options.baseUrl, headers: { authorization: `Bearer ${options.token}` } });
  const state = options.state.toUpperCase();
  const init = options.signal ? { signal: options.signal } : {};
  const listing = await answer(options, 'GET', () => api.GET('/api/states/{state}/upload-sessions', { params: { path: { state } }, ...init }));
  // Committed and refused sessions stay listed for a while; only a live one is this file's to resume.
  const mine = listing.sessions.find(
    (session) => session.fileName.toLowerCase() === options.fileName.toLowerCase() && (session.status === 'open' || session.status === 'verifying'),
  );
  if (!mine && size <= listing.partBytes) {
    // Small enough for one request: nothing to resume.
    options.onProgress?.({ sentBytes: 0, resumedBytes: 0, totalBytes: size, phase: 'uploading' });
    const accepted = await withRetries(options, () =>
      answer(options, 'PUT', () =>
        api.PUT('/api/states/{state}/uploads/{filename}', {
          params: { path: { state, filename: options.fileName } },
          ...fileRange(options.file, 0, size, 'text/csv', (sent) => options.onProgress?.({ sentBytes: sent, resumedBytes: 0, totalBytes: size, phase: 'uploading' })),
          ...init,
        })),
    );
    return { ...accepted, uploadBytes: size, resumedBytes: 0, parts: 1 };
  }

  options.onProgress?.({ sentBytes: 0, resumedBytes: 0, totalBytes: size, phase: 'hashing' });
  const sha256 = await fileSha256(options.file, 0, size, 'hex');
  let session: SessionBody;
  if (mine) {
    if (mine.size !== size || (mine.sha256 !== null && mine.sha256 !== sha256)) {
      throw new UploadError(
        `another upload of ${options.fileName} is in progress for ${state} with a different file: ` +
          `wait for it, or abort it (DELETE ${mine.url})`,
        409,
      );
    }
    session = mine;
  } else {
    session = await answer(options, 'POST', () =>
      api.POST('/api/states/{state}/upload-sessions', { params: { path: { state } }, body: { fileName: options.fileName, size, sha256 }, ...init }));
  }
  const resumedBytes = session.receivedBytes;
  let sent = 0;
  const inFlight = new Map<number, number>();
  const report = (phase: 'uploading' | 'committing') => {
    let flying = 0;
    for (const bytes of inFlight.values()) flying += bytes;
    options.onProgress?.({ sentBytes: sent + flying, resumedBytes, totalBytes: size, phase });
  };
  report('uploading');

  for (;;) {
    const path = { state, sessionId: session.id };
    const queue = [...session.missingParts];
    const worker = async () => {
      for (let part = queue.shift(); part !== undefined; part = queue.shift()) {
        const start = (part - 1) * session.partBytes;
        const length = Math.min(session.partBytes, size - start);
        const digest = await fileSha256(options.file, start, length, 'base64');
        const partNumber = part;
        await withRetries(options, async () => {
          inFlight.set(partNumber, 0);
          try {
            await answer(options, 'PUT', () =>
              api.PUT('/api/states/{state}/upload-sessions/{sessionId}/parts/{partNumber}', {
                params: { path: { ...path, partNumber: String(partNumber) }, header: { 'content-digest': `sha-256=:${digest}:` } },
                ...fileRange(options.file, start, length, 'application/octet-stream', (bytes) => {
                  inFlight.set(partNumber, bytes);
                  report('uploading');
                }),
                ...init,
              }));
            sent += length;
          } finally {
            inFlight.delete(partNumber);
          }
        });
        report('uploading');
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.parallel ?? 4, queue.length) }, worker));
    report('committing');
    try {
      if (session.status === 'open') {
        session = await withRetries(options, () =>
          answer(options, 'POST', () => api.POST('/api/states/{state}/upload-sessions/{sessionId}/commit', { params: { path }, ...init })));
      }
      const committed = await untilCommitted(options, api, session);
      return { uploadId: committed.uploadId!, instanceId: committed.instanceId!, statusUrl: committed.statusUrl!, uploadBytes: sent, resumedBytes, parts: session.partCount };
    } catch (error) {
      // Parts missing (one was refused or the session changed meanwhile): read where it stands and send the rest.
      if (!(error instanceof UploadError) || error.status !== 409 || !/parts missing/i.test(error.message)) throw error;
      session = await answer(options, 'GET', () => api.GET('/api/states/{state}/upload-sessions/{sessionId}', { params: { path }, ...init }));
    }
  }
}

/**
 * The server verifies the whole file and stores it after the commit has answered (a file of gigabytes takes longer
 * than an HTTP request may): the session is read until it is committed, refused, or open again.
 */
async function untilCommitted(options: Pick<UploadOptions, 'state' | 'signal'>, api: Client<paths>, accepted: SessionBody): Promise<SessionBody> {
  const params = { path: { state: options.state.toUpperCase(), sessionId: accepted.id } };
  for (let session = accepted; ; ) {
    if (session.status === 'committed') return session;
    if (session.status === 'failed') throw new UploadError(`${session.failure?.title ?? 'Upload refused'}: ${session.failure?.detail ?? ''}`, 409);
    if (session.status === 'open') {
      throw new UploadError(`${session.failure?.title ?? 'Commit failed'}: ${session.failure?.detail ?? 'run again to commit'}`, session.failure?.title === 'Parts missing' ? 409 : undefined);
    }
    // Every 2 s, as the commit's Retry-After says: the reads spend the API's per-caller budget.
    await sleep(2_000, undefined, options.signal ? { signal: options.signal } : {});
    session = await withRetries(options, () =>
      answer(options, 'GET', () => api.GET('/api/states/{state}/upload-sessions/{sessionId}', { params, ...(options.signal ? { signal: options.signal } : {}) })));
  }
}

/** SHA-256 of a byte range of the file, read as a stream. */
export async function fileSha256(file: string, start: number, length: number, encoding: 'hex' | 'base64'): Promise<string> {
  const hash = createHash('sha256');
  if (length > 0) await pipeline(createReadStream(file, { start, end: start + length - 1, highWaterMark: 1 << 20 }), hash);
  return (hash.read() as Buffer).toString(encoding);
}

async function withRetries<T>(options: Pick<UploadOptions, 'signal'>, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n += 1) {
    try {
      return await attempt();
    } catch (error) {
      options.signal?.throwIfAborted();
      const retryable = error instanceof UploadError ? error.status === undefined || RETRYABLE.has(error.status) : true;
      if (!retryable || n >= ATTEMPTS) throw error;
      await sleep(Math.min(30_000, 500 * 2 ** (n - 1)), undefined, options.signal ? { signal: options.signal } : {});
    }
  }
}

/** A call through the generated client; a refusal's problem detail (or a host's text/plain answer) becomes the error's message. */
async function answer<T>(
  options: Pick<UploadOptions, 'signal'>,
  method: string,
  request: () => Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request();
  } catch (error) {
    options.signal?.throwIfAborted();
    // fetch's own message ("fetch failed") hides the reason in its cause.
    const { message, cause } = error as Error & { cause?: Error };
    throw new UploadError(`${method}: ${message}${cause?.message ? ` (${cause.message})` : ''}`);
  }
  const { data, error, response } = result;
  if (data === undefined) throw new UploadError(`${method} ${new URL(response.url).pathname}: HTTP ${response.status} ${problemText(error)}`, response.status);
  return data;
}

function problemText(body: unknown): string {
  if (typeof body !== 'object' || body === null) return String(body ?? '');
  const { title, detail } = body as { title?: string; detail?: string };
  return `${title ?? ''}: ${detail ?? ''}`;
}

/**
 * A request body that is a byte range of the file, streamed from disk with its length declared (the API takes no
 * chunked bodies), counting the bytes as they go.
 */
function fileRange(file: string, start: number, length: number, contentType: string, onBytes: (sent: number) => void) {
  let body: Blob | ReadableStream<Uint8Array> = new Blob([]);
  if (length > 0) {
    let sent = 0;
    const source = createReadStream(file, { start, end: start + length - 1, highWaterMark: 1 << 20 });
    source.on('data', (chunk) => {
      sent += chunk.length;
      onBytes(sent);
    });
    body = Readable.toWeb(source) as ReadableStream<Uint8Array>;
  }
  return {
    body,
    bodySerializer: (raw: unknown) => raw,
    headers: { 'content-type': contentType, 'content-length': String(length) },
    // A streamed request body is sent whole before the answer is read.
    duplex: 'half' as const,
  };
}
