import type { HttpResponseInit } from '@azure/functions';
import { z } from 'zod';

/**
 * RFC 9457 problem details: the one error shape of the HTTP API, as the OpenAPI document declares it. `session` and
 * `missingParts` are the extensions of the resumable upload's 409s.
 */
export const problemDetails = z
  .object({
    type: z.string().meta({ example: 'about:blank' }),
    title: z.string().meta({ example: 'Forbidden' }),
    status: z.number().int().min(400).max(599).meta({ example: 403 }),
    detail: z.string().meta({ example: 'your roles do not let you read state TX' }),
    session: z.url().optional().meta({ description: 'The upload session in progress for this file name (409 Upload in progress).' }),
    missingParts: z.array(z.number().int().min(1)).max(1000).optional().meta({ description: 'The parts still to send (409 Parts missing; the first 1000).' }),
  })
  .meta({ id: 'ProblemDetails', description: 'RFC 9457 problem details.' });

export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 411 | 412 | 413 | 415 | 428 | 429 | 500 | 501 | 503;

export function problem(status: ProblemStatus, title: string, detail: string, headers: Record<string, string> = {}): HttpResponseInit {
  const body: z.input<typeof problemDetails> = { type: 'about:blank', title, status, detail };
  return { status, headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers }, jsonBody: body };
}

/** `data[1].lds_hash`: where in a decoded value (a path parameter, a query value, a body) an issue is. */
export function positionOf(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`)).join('');
}

/**
 * A 400's detail for decode issues: each once, with its position first unless its message already starts with it
 * (`initial_action_at must not be in the future`) or speaks of the whole body.
 */
export function issuesDetail(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const named = issues.map(({ path, message }) => {
    const position = positionOf(path);
    return position === '' || message.startsWith(`${position} `) || message.startsWith('the body') ? message : `${position}: ${message}`;
  });
  return [...new Set(named)].join('; ');
}

/** A body as a handler holds it: what the schema's JSON reads, with arrays and objects that may be read-only. */
export type Sendable<T> = T extends readonly (infer U)[] ? readonly Sendable<U>[] : T extends object ? { readonly [K in keyof T]: Sendable<T[K]> } : T;

/**
 * A JSON answer, typed by the schema the OpenAPI document declares for it (the route's row in httpRoutes.ts): a
 * handler cannot send a body its contract does not describe.
 */
export function json<S extends z.ZodType>(_schema: S, body: Sendable<z.input<S>>, status = 200, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'cache-control': 'no-store', ...headers } };
}

/**
 * The 404 for an upload that does not exist, for one the caller may not read, and for an id no upload can have: they
 * must not differ, and none repeats the id asked for.
 */
export const uploadNotFound = (): HttpResponseInit => problem(404, 'Upload not found', 'there is no such upload among the uploads you may read');

/** The same for a match record: one that does not exist and one of two other states answer alike. */
export const matchNotFound = (): HttpResponseInit => problem(404, 'Match not found', 'there is no such match among the matches you may read');
