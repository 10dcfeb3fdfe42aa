import { request } from 'node:http';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/host/host.js';

const streamApp = fileURLToPath(new URL('../fixtures/stream-app', import.meta.url));
let host: RunningHost;

beforeAll(async () => {
  // 64 MiB request limit, as FUNCTIONS_REQUEST_BODY_SIZE_LIMIT sets it for the Functions host.
  host = await startHost({ appDir: streamApp, port: 0, env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(64 << 20) }, logLevel: 'none' });
});
afterAll(async () => {
  await host?.stop();
});

/** A body of `size` bytes produced 64 KiB at a time, sent with a Content-Length. */
function put(path: string, size: number, options: { sendBody?: boolean } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${host.url}${path}`, { method: 'PUT', headers: { 'content-length': String(size), 'content-type': 'text/csv' } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', (error) => (error as NodeJS.ErrnoException).code === 'EPIPE' || (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error));
    if (options.sendBody === false) {
      req.flushHeaders();
      return;
    }
    let sent = 0;
    Readable.from((function* () {
      while (sent < size) {
        const n = Math.min(64 << 10, size - sent);
        sent += n;
        yield Buffer.alloc(n, 0x61);
      }
    })()).pipe(req);
  });
}

describe('HTTP streams (app.setup({ enableHttpStream: true }))', () => {
  it('delivers the body to the function as a stream of chunks, with route values, query and headers', async () => {
    const size = 48 << 20;
    const response = await put('/api/count/ana?q=x', size);
    expect(response.status).toBe(201);
    const body = JSON.parse(response.body) as { name: string; q: string; bytes: number; chunks: number; largest: number };
    expect(body).toMatchObject({ name: 'ana', q: 'x', bytes: size });
    expect(body.chunks).toBeGreaterThan(100);
    expect(body.largest).toBeLessThanOrEqual(1 << 20);
    expect(response.headers['x-seen-length']).toBe(String(size));
  });

  it('answers 413 itself for a declared length over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, without reading the body', async () => {
    const response = await put('/api/count/ana', (64 << 20) + 1, { sendBody: false });
    expect(response.status).toBe(413);
    expect(response.body).toContain('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT');
  });

  it('passes on an answer given before the body was read, and closes that connection', async () => {
    const response = await put('/api/refuse', 32 << 20, { sendBody: false });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toEqual({ refused: true });
    expect(response.headers.connection).toBe('close');
  });

  it('answers 500 when the function throws, and keeps serving', async () => {
    expect((await put('/api/fail', 10)).status).toBe(500);
    expect((await put('/api/count/bo', 3)).status).toBe(201);
  });
});
