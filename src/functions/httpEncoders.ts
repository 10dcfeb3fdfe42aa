import type { HttpResponseInit } from '@azure/functions';

/** RFC 9457 problem details: the one error shape of the HTTP API. */
export function problem(
  status: 400 | 401 | 403 | 404 | 409 | 411 | 412 | 413 | 415 | 428 | 429 | 500 | 501 | 503,
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

/**
 * The 404 for an upload that does not exist, for one the caller may not read, and for an id no upload can have: they
 * must not differ, and none repeats the id asked for.
 */
export const uploadNotFound = (): HttpResponseInit => problem(404, 'Upload not found', 'there is no such upload among the uploads you may read');

/** The same for a match record: one that does not exist and one of two other states answer alike. */
export const matchNotFound = (): HttpResponseInit => problem(404, 'Match not found', 'there is no such match among the matches you may read');
