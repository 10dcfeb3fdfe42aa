import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { problem } from './httpEncoders.js';

/**
 * A small JSON request body (a disposition change, a match query), or the problem to answer: 415 unless JSON, 413
 * above `maxBytes`, 400 when it does not parse. The body is never logged or echoed.
 */
export async function readJsonBody(request: HttpRequest, maxBytes: number, types: readonly string[] = ['application/json']): Promise<{ ok: true; body: unknown } | { ok: false; response: HttpResponseInit }> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!types.includes(type)) return { ok: false, response: problem(415, 'Unsupported media type', `send the body as ${types.join(' or ')}`) };
  const declared = Number(request.headers.get('content-length') ?? '0');
  const tooLarge = () => ({ ok: false as const, response: problem(413, 'Body too large', `the body may be at most ${maxBytes} bytes`) });
  if (declared > maxBytes) return tooLarge();
  const text = await request.text();
  if (Buffer.byteLength(text) > maxBytes) return tooLarge();
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, response: problem(400, 'Bad request', 'the body is not valid JSON') };
  }
}
