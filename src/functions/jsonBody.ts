import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';
import { issuesDetail, positionOf, problem } from './httpEncoders.js';
import type { RequestBody } from './httpRoutes.js';

type Read = { ok: true; value: unknown } | { ok: false; reason: string; response: HttpResponseInit };

/**
 * The edge's reader of a row's JSON request body (accessGuard.ts): 415 unless the media type is one the row lists,
 * 413 above its `maxBytes`, 400 when it does not parse, 400 naming each position and rule its schema refuses; else
 * the decoded value the handler gets as `body`. A row without a JSON body reads none. The body is never logged or
 * echoed: a refusal names positions and rules only.
 */
export function jsonBodyReader(name: string, requestBody: RequestBody | undefined): (request: HttpRequest) => Promise<Read> {
  const schemas = new Map(Object.entries(requestBody?.content ?? {}).filter((entry): entry is [string, z.ZodType] => entry[1] !== 'bytes'));
  if (schemas.size === 0) return async () => ({ ok: true, value: undefined });
  const maxBytes = requestBody?.maxBytes;
  if (maxBytes === undefined) throw new Error(`route ${name}: a JSON request body needs its maxBytes`);
  const types = [...schemas.keys()];
  return async (request) => {
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const schema = schemas.get(type);
    if (!schema) return refused('body media type', problem(415, 'Unsupported media type', `send the body as ${types.join(' or ')}`));
    const tooLarge = () => refused('body too large', problem(413, 'Body too large', `the body may be at most ${maxBytes} bytes`));
    if (Number(request.headers.get('content-length') ?? '0') > maxBytes) return tooLarge();
    const text = await request.text();
    if (Buffer.byteLength(text) > maxBytes) return tooLarge();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refused('body not JSON', problem(400, 'Bad request', 'the body is not valid JSON'));
    }
    const decoded = schema.safeParse(body);
    if (decoded.success) return { ok: true, value: decoded.data };
    const { issues } = decoded.error;
    const positions = [...new Set(issues.map((issue) => positionOf(issue.path) || '(body)'))];
    return refused(`bad body at ${positions.join(', ')}`, problem(400, 'Bad request', issuesDetail(issues)));
  };
}

const refused = (reason: string, response: HttpResponseInit): Read => ({ ok: false, reason, response });
