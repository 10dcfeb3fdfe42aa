import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';

/** How the library matches a request on its local server to the invocation it belongs to. */
const INVOCATION_HEADER = 'x-ms-invocation-id';
/** Hop-by-hop headers (RFC 9110 7.6.1) are never relayed, nor the correlation header. */
const NOT_RELAYED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', INVOCATION_HEADER]);

export interface ForwardedRequest {
  method: string;
  /** Path and query, as received. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The host the client called (the library rebuilds the request URL from it). */
  host: string;
}

export interface ProxiedRequest {
  /** The app's response, once the function has sent it. */
  response: Promise<IncomingMessage>;
  /** Drops the request (the function failed or answered nothing). */
  cancel(): void;
}

/**
 * `app.setup({ enableHttpStream: true })`: the library serves HTTP triggers from its own local server (the
 * `HttpUri` capability it reports) and pairs each request with an invocation by the `x-ms-invocation-id` header.
 * The host sends the request there, tagged with the id of the invocation it starts, and relays the response, as
 * the Functions host does; request and response bodies then reach the function as streams.
 */
export function forwardToApp(streamUri: string, invocationId: string, request: ForwardedRequest): ProxiedRequest {
  const controller = new AbortController();
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) if (!NOT_RELAYED.has(name.toLowerCase())) headers[name] = value;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = httpRequest(new URL(request.path, streamUri), {
      method: request.method,
      headers: {
        ...headers,
        'content-length': request.body.length,
        [INVOCATION_HEADER]: invocationId,
        'x-forwarded-host': request.host,
        'x-forwarded-proto': 'http',
      },
      signal: controller.signal,
    }, resolve);
    outgoing.once('error', reject);
    outgoing.end(request.body);
  });
  response.catch(() => {}); // a cancelled request is not an error anyone waits for
  return { response, cancel: () => controller.abort() };
}

/** The app's response headers, less hop-by-hop ones (this server frames its own response). */
export function relayedHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !NOT_RELAYED.has(name)));
}
