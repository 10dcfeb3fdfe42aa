import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';

export const fixtureApp = fileURLToPath(new URL('../fixtures/durable-app', import.meta.url));

export async function json(response: Response): Promise<unknown> {
  const text = await response.text();
  return text ? JSON.parse(text) : undefined;
}

/** Polls the management API's status URL until the instance leaves Pending/Running. */
export async function waitForStatus(statusUrl: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(statusUrl);
    const body = (await json(response)) as Record<string, unknown>;
    if (!['Pending', 'Running', 'ContinuedAsNew'].includes(String(body.runtimeStatus))) return body;
    if (Date.now() > deadline) throw new Error(`instance still ${String(body.runtimeStatus)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RawResponse {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** A request exactly as written: the path unnormalised and any Host or Origin header (fetch would fix both). */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ hostname, port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: response.statusCode!, contentType: response.headers['content-type'], body: text }));
    });
    request.on('error', reject).end(body);
  });
}
