import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import { uploadFile } from '../../local/src/cli/partsUpload.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, finalStatus, getJson, validRows } from '../support/uploads.js';
import { checkedFetch } from '../support/contract.js';

const MAX_BYTES = 256 << 20;

interface Answer { status: number; body: string }

/** A PUT with full control of the head: Content-Length as given (or chunked), body streamed from a file or a string. */
function put(t: TestStack, path: string, token: string, body: { file?: string; text?: string; length?: number; chunked?: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'text/csv' };
    const bytes = body.text !== undefined ? Buffer.from(body.text) : undefined;
    if (body.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(body.length ?? bytes?.length ?? 0);
    const req = request(`${t.url}${path}`, { method: 'PUT', headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (body.file) createReadStream(body.file).pipe(req);
    else if (body.length !== undefined && !bytes) req.flushHeaders(); // a head that declares more than we will send
    else req.end(bytes);
  });
}

/** Resident memory of a process (Linux /proc), MiB. */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

describe('upload API: PUT /api/states/{state}/uploads/{filename}', () => {
  let t: TestStack;
  let ca: string;

  beforeAll(async () => {
    // The host in its own process, as on Azure, so its memory is measured apart from this test's client.
    t = await startTestStack({ UPLOAD_MAX_BYTES: String(MAX_BYTES) }, { hostProcess: true });
    ca = await t.token({ states: ['CA'] });
  }, 180_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('streams a 1M-row file to blob storage in parts with the host memory flat, and answers with the ids the blob event starts', async () => {
    const file = join(t.stack.dataDir, 'million.csv');
    await generateParticipantsCsv(file, { rows: 1_000_000, seed: 11 });
    const { size } = await stat(file);
    const baseline = await rssMiB(t.stack.hostPid);
    let peak = baseline;
    const sampler = setInterval(() => void rssMiB(t.stack.hostPid).then((rss) => (peak = Math.max(peak, rss)), () => {}), 50);
    let accepted: Awaited<ReturnType<typeof uploadFile>>;
    const started = Date.now();
    try {
      // Over the part size (64 MiB by default): the client sends it in parts, four at once.
      accepted = await uploadFile({ baseUrl: t.url, state: 'CA', file, fileName: 'million.csv', token: ca, parallel: 4 });
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    console.info(
      `upload API: ${(size / 2 ** 20).toFixed(0)} MiB file in ${accepted.parts} parts, ${(size / 2 ** 20 / seconds).toFixed(0)} MiB/s; ` +
        `host RSS ${baseline.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB while streaming`,
    );
    expect(accepted.parts).toBe(Math.ceil(size / (64 << 20)));
    expect(accepted.uploadBytes).toBe(size);
    // Held whole, a part alone would add 64 MiB a request; streamed, the host holds a little of each at a time.
    expect(peak - baseline).toBeLessThan(Math.min(96, size / 2 ** 20 / 2));
    expect(accepted.instanceId).toBe(`ingest-${accepted.uploadId}`);
    expect(accepted.statusUrl).toMatch(new RegExp(`/api/uploads/${accepted.uploadId}$`));
    const blob = await t.uploads.getBlobClient('ca/million.csv').getProperties();
    expect(blob.contentLength).toBe(size);
    // The blob's event registers exactly that upload (the API started nothing itself).
    const registered = await waitFor('the upload to be registered', async () => {
      const response = await t.api(new URL(accepted.statusUrl).pathname);
      return response.ok ? ((await response.json()) as UploadStatusBody) : undefined;
    });
    expect(registered).toMatchObject({ uploadId: accepted.uploadId, instanceId: accepted.instanceId, state: 'CA', blobName: 'ca/million.csv' });
    // Ingesting it is what the other e2e tests prove: end it here to keep the suite short on 2 cores.
    const terminated = await checkedFetch(`${t.url}/runtime/webhooks/durabletask/instances/${accepted.instanceId}/terminate?reason=test-done`, { method: 'POST' });
    expect([202, 410]).toContain(terminated.status);
  }, 300_000);

  it('refuses what it cannot take with the right status and a problem detail, storing nothing', async () => {
    const csv = `${CSV_HEADER}\n${validRows(0, 3)}`;
    const cases: Array<[string, Promise<Answer>, number, string]> = [
      ['no Content-Length', put(t, '/api/states/ca/uploads/chunked.csv', ca, { text: csv, chunked: true }), 411, 'Length required'],
      ['over the part size', put(t, '/api/states/ca/uploads/huge.csv', ca, { length: (64 << 20) + 1 }), 413, 'File too large for one request'],
      ['not .csv', put(t, '/api/states/ca/uploads/data.txt', ca, { text: csv }), 400, 'Bad file name'],
      ['unsafe name', put(t, `/api/states/ca/uploads/${encodeURIComponent('my file;.csv')}`, ca, { text: csv }), 400, 'Bad file name'],
      ['hidden name', put(t, '/api/states/ca/uploads/.csv', ca, { text: csv }), 400, 'Bad file name'],
      ['empty body', put(t, '/api/states/ca/uploads/empty.csv', ca, { text: '' }), 400, 'Empty file'],
      ['bad state', put(t, '/api/states/cal/uploads/x.csv', ca, { text: csv }), 400, 'Bad request'],
      ['no such state', put(t, '/api/states/xx/uploads/x.csv', ca, { text: csv }), 400, 'Bad request'],
    ];
    for (const [name, pending, status, title] of cases) {
      const answer = await pending;
      expect(answer.status, `${name}: ${answer.body}`).toBe(status);
      expect(JSON.parse(answer.body), name).toMatchObject({ type: 'about:blank', status, title });
    }
    // Above the 210 MB Azure accepts, the host itself refuses (as on Azure: text/plain, before the app runs).
    const hostLimit = await put(t, '/api/states/ca/uploads/giant.csv', ca, { length: 210 * 1024 * 1024 + 1 });
    expect(hostLimit.status).toBe(413);
    expect(hostLimit.body).toContain('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT');
    const stored = [];
    for await (const blob of t.uploads.listBlobsFlat({ includeUncommitedBlobs: true })) stored.push(blob.name);
    expect(stored).toEqual(['ca/million.csv']);
  });

  it('takes the same file twice as two uploads, the newer one active', async () => {
    const csv = `${CSV_HEADER}\n${validRows(0, 500)}`;
    const first = JSON.parse((await put(t, '/api/states/CA/uploads/twice.csv', ca, { text: csv })).body) as { uploadId: string };
    const firstFinal = await finalStatus(t, 'ca/twice.csv');
    expect(firstFinal.uploadId).toBe(first.uploadId);
    const second = JSON.parse((await put(t, '/api/states/ca/uploads/twice.csv', ca, { text: csv })).body) as { uploadId: string };
    expect(second.uploadId).not.toBe(first.uploadId);
    const secondFinal = await finalStatus(t, 'ca/twice.csv', { notUploadId: first.uploadId });
    expect(secondFinal).toMatchObject({ uploadId: second.uploadId, status: 'complete', isActive: true });
    expect(await getJson<UploadStatusBody>(t, `/api/uploads/${first.uploadId}`)).toMatchObject({ isActive: false, status: 'superseded' });
  }, 120_000);
});
