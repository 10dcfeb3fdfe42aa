import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

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

export interface SessionBody {
  id: string;
  fileName: string;
  size: number;
  sha256: string | null;
  partBytes: number;
  partCount: number;
  status: 'open' | 'verifying' | 'committed' | 'failed';
  receivedBytes: number;
  missingParts: number[];
  url: string;
  /** Once committed: the upload the file became. */
  uploadId?: string;
  instanceId?: string;
  statusUrl?: string;
  /** Why the commit was refused (failed) or gave up (open again). */
  failure?: { title: string; detail: string };
}

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
  const sessionsUrl = `${options.baseUrl}/api/states/${options.state.toUpperCase()}/upload-sessions`;
  const listing = await call<{ partBytes: number; sessions: SessionBody[] }>(options, 'GET', sessionsUrl);
  // Committed and refused sessions stay listed for a while; only a live one is this file's to resume.
  const mine = listing.sessions.find(
    (session) => session.fileName.toLowerCase() === options.fileName.toLowerCase() && (session.status === 'open' || session.status === 'verifying'),
  );
  if (!mine && size <= listing.partBytes) {
    // Small enough for one request: nothing to resume.
    options.onProgress?.({ sentBytes: 0, resumedBytes: 0, totalBytes: size, phase: 'uploading' });
    const accepted = await withRetries(options, () =>
      send<{ uploadId: string; instanceId: string; statusUrl: string }>(options, 'PUT', `${options.baseUrl}/api/states/${options.state.toUpperCase()}/uploads/${options.fileName}`, {
        file: options.file,
        start: 0,
        length: size,
        onBytes: (sent) => options.onProgress?.({ sentBytes: sent, resumedBytes: 0, totalBytes: size, phase: 'uploading' }),
      }),
    );
    return { ...accepted, uploadBytes: size, resumedBytes: 0, parts: 1 };
  }

  options.onProgress?.({ sentBytes: 0, resumedBytes: 0, totalBytes: size, phase: 'hashing' });
  const sha256 = await fileSha256(options.file, 0, size, 'hex');
  let session: SessionBody;
  if (mine) {
    if (mine.size !== size || (mine.sha256 !== null && mine.sha256 !== sha256)) {
      throw new UploadError(
        `another upload of ${options.fileName} is in progress for ${options.state.toUpperCase()} with a different file: ` +
          `wait for it, or abort it (DELETE ${mine.url})`,
        409,
      );
    }
    session = mine;
  } else {
    session = await call<SessionBody>(options, 'POST', sessionsUrl, { fileName: options.fileName, size, sha256 });
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
            await send(options, 'PUT', `${session.url}/parts/${partNumber}`, {
              file: options.file,
              start,
              length,
              headers: { 'content-digest': `sha-256=:${digest}:` },
              onBytes: (bytes) => {
                inFlight.set(partNumber, bytes);
                report('uploading');
              },
            });
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
      if (session.status === 'open') session = await withRetries(options, () => call<SessionBody>(options, 'POST', `${session.url}/commit`));
      const committed = await untilCommitted(options, session);
      return { uploadId: committed.uploadId!, instanceId: committed.instanceId!, statusUrl: committed.statusUrl!, uploadBytes: sent, resumedBytes, parts: session.partCount };
    } catch (error) {
      // Parts missing (one was refused or the session changed meanwhile): read where it stands and send the rest.
      if (!(error instanceof UploadError) || error.status !== 409 || !/parts missing/i.test(error.message)) throw error;
      session = await call<SessionBody>(options, 'GET', session.url);
    }
  }
}

/**
 * The server verifies the whole file and stores it after the commit has answered (a file of gigabytes takes longer
 * than an HTTP request may): the session is read until it is committed, refused, or open again.
 */
async function untilCommitted(options: Pick<UploadOptions, 'token' | 'signal'>, accepted: SessionBody): Promise<SessionBody> {
  for (let session = accepted; ; ) {
    if (session.status === 'committed') return session;
    if (session.status === 'failed') throw new UploadError(`${session.failure?.title ?? 'Upload refused'}: ${session.failure?.detail ?? ''}`, 409);
    if (session.status === 'open') {
      throw new UploadError(`${session.failure?.title ?? 'Commit failed'}: ${session.failure?.detail ?? 'run again to commit'}`, session.failure?.title === 'Parts missing' ? 409 : undefined);
    }
    // Every 2 s, as the commit's Retry-After says: the reads spend the API's per-caller budget.
    await sleep(2_000, undefined, options.signal ? { signal: options.signal } : {});
    session = await withRetries(options, () => call<SessionBody>(options, 'GET', accepted.url));
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

/** A JSON request; the problem detail of a refusal becomes the error's message. */
async function call<T>(options: Pick<UploadOptions, 'token' | 'signal'>, method: string, url: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${options.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    options.signal?.throwIfAborted();
    throw new UploadError(`${method} ${url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw refusal(method, url, response.status, text);
  return JSON.parse(text) as T;
}

function refusal(method: string, url: string, status: number, text: string): UploadError {
  let detail = text;
  try {
    const problem = JSON.parse(text) as { title?: string; detail?: string };
    detail = `${problem.title ?? ''}: ${problem.detail ?? ''}`;
  } catch {
    // not a problem detail (a host's text/plain answer): shown as it came
  }
  return new UploadError(`${method} ${new URL(url).pathname}: HTTP ${status} ${detail}`, status);
}

/** A request whose body is a byte range of the file, streamed with its length declared. */
function send<T>(
  options: Pick<UploadOptions, 'token' | 'signal'>,
  method: string,
  url: string,
  body: { file: string; start: number; length: number; headers?: Record<string, string>; onBytes?: (sent: number) => void },
): Promise<T> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'text/csv', 'content-length': String(body.length), ...body.headers };
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method, headers, ...(options.signal ? { signal: options.signal } : {}) }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('error', (error) => reject(new UploadError(`${method} ${url}: ${error.message}`)));
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve((text ? JSON.parse(text) : {}) as T);
        else reject(refusal(method, url, status, text));
      });
    });
    request.on('error', (error) => reject(options.signal?.aborted ? options.signal.reason : new UploadError(`${method} ${url}: ${error.message}`)));
    if (body.length === 0) {
      request.end();
      return;
    }
    let sent = 0;
    const source = createReadStream(body.file, { start: body.start, end: body.start + body.length - 1, highWaterMark: 1 << 20 });
    source.on('data', (chunk) => {
      sent += chunk.length;
      body.onBytes?.(sent);
    });
    source.on('error', (error) => request.destroy(error));
    source.pipe(request);
  });
}
