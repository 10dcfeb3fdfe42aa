import { request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { finished } from 'node:stream/promises';

/**
 * The largest request Azure Functions accepts (210 MB, its documented HTTP limit): the local host refuses bodies
 * above it by default, and above it whatever FUNCTIONS_REQUEST_BODY_SIZE_LIMIT says, so a local run fails where
 * Azure would. The setting may lower it.
 */
export const AZURE_MAX_REQUEST_BYTES = 210 * 1024 * 1024;
export const DEFAULT_BODY_LIMIT = AZURE_MAX_REQUEST_BYTES;

export function bodyLimit(env: NodeJS.ProcessEnv): number {
  const value = Number(env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT);
  return Number.isSafeInteger(value) && value > 0 ? Math.min(value, AZURE_MAX_REQUEST_BYTES) : DEFAULT_BODY_LIMIT;
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)`);
  }
}

/** True (after answering 413, as the Functions host does) when the declared length is over the limit. */
export function refuseDeclaredOversize(request: IncomingMessage, response: ServerResponse, limit: number): boolean {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared <= limit) return false;
  response.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(new BodyTooLargeError(limit).message);
  return true;
}

/** The whole body, for functions that get it as bytes (no HTTP streams) and for the host's own webhooks. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.pipe(limitBytes(limit))) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks, size);
}

/** Passes bytes through and fails once more than `limit` went by (a chunked body declares no length). */
function limitBytes(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > limit ? new BodyTooLargeError(limit) : null, chunk);
    },
  });
}

const agent = new Agent({ keepAlive: true });

/**
 * HTTP streams (`app.setup({ enableHttpStream: true })`), as the Functions host runs them: the request, body
 * included, is forwarded as it arrives to the worker's HTTP proxy (`HttpUri`), tagged with the invocation id; the
 * function reads it as a stream and its response comes back the same way. Nothing is buffered whole here.
 * `invocation` is the RPC side of the same invocation; it settles when the function has answered (or failed).
 */
export async function forwardThroughProxy(options: {
  httpUri: string;
  invocationId: string;
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
  limit: number;
  invocation: Promise<{ error?: unknown; returned: boolean }>;
}): Promise<{ error?: unknown }> {
  const { request, response, url } = options;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && name !== 'connection' && name !== 'keep-alive') headers[name] = value;
  }
  headers['x-ms-invocation-id'] = options.invocationId;
  headers['x-forwarded-host'] = request.headers.host ?? url.host;
  headers['x-forwarded-proto'] = 'http';
  const proxied = httpRequest(new URL(`${url.pathname}${url.search}`, options.httpUri), { method: request.method ?? 'GET', headers, agent });
  let proxyError: Error | undefined;
  proxied.on('error', (error) => (proxyError ??= error));
  // The worker's invocation waits for this request: send its head now, not with the first body bytes.
  proxied.flushHeaders();
  const answered = new Promise<void>((done) => {
    proxied.on('response', (workerResponse) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(workerResponse.headers)) {
        if (value !== undefined && name !== 'x-ms-invocation-id' && name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding') out[name] = value;
      }
      // Answered before the body was read (411, 413, 400...): the rest of the upload is not wanted.
      if (!request.complete) out.connection = 'close';
      response.writeHead(workerResponse.statusCode ?? 500, out);
      workerResponse.pipe(response);
      void finished(response).catch(() => {}).then(() => done());
    });
  });
  const body = request.pipe(limitBytes(options.limit));
  body.on('error', (error) => proxied.destroy(error));
  body.pipe(proxied);
  // A client that leaves mid-body: the function must see its body fail now (as on Azure), not wait for bytes that
  // never come while the invocation, and shutdown, wait for it.
  request.once('close', () => {
    if (!request.complete) proxied.destroy(new Error('the client closed the connection before the whole body arrived'));
  });

  const result = await options.invocation;
  if (result.error !== undefined || proxyError) {
    proxied.destroy();
    if (!response.headersSent) response.writeHead(500, { connection: 'close' }).end();
    return { error: result.error ?? proxyError };
  }
  if (!result.returned) {
    // Nothing returned: the library sends no response, so none will come (204, as without streams).
    proxied.destroy();
    if (!response.headersSent) response.writeHead(204).end();
    return {};
  }
  await answered;
  if (!request.complete) proxied.destroy();
  return {};
}
