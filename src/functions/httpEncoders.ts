import type { HttpResponseInit } from '@azure/functions';

/** RFC 9457 problem details: the one error shape of the HTTP API. */
export function problem(
  status: 400 | 401 | 403 | 404 | 409 | 411 | 413 | 429 | 500 | 501 | 503,
  title: string,
  detail: string,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return {
    status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers },
    jsonBody: { type: 'about:blank', title, status, detail },
  };
}

export function json(body: unknown, status = 200): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'cache-control': 'no-store' } };
}
