import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile, type SessionBody } from '../../local/src/cli/partsUpload.js';
import { createStagedUploads } from '../../src/adapters/stagedUploads.js';
import { expireAbandonedSessions } from '../../src/functions/uploadSessions.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, finalStatus, validRows } from '../support/uploads.js';

/** The smallest part the app takes, so a file of a few thousand rows has several parts. */
const PART = 64 * 1024;

const sha256 = (bytes: Buffer, encoding: 'hex' | 'base64') => createHash('sha256').update(bytes).digest(encoding);
const csvOf = (from: number, to: number) => Buffer.from(`${CSV_HEADER}\n${validRows(from, to)}`);
const partOf = (file: Buffer, n: number) => file.subarray((n - 1) * PART, n * PART);

interface Answer { status: number; contentType: string | null; body: any }

describe('resumable upload: /api/states/{state}/upload-sessions', () => {
  let t: TestStack;
  let ca: string;
  let tx: string;

  beforeAll(async () => {
    t = await startTestStack({ UPLOAD_PART_BYTES: String(PART) });
    ca = await t.token({ states: ['CA'] });
    tx = await t.token({ states: ['TX'] });
  }, 180_000);
  afterAll(async () => {
    await t?.stop();
  });

  async function call(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const init: RequestInit & { token: string } = { method, token, headers };
    if (Buffer.isBuffer(body)) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { ...headers, 'content-type': 'application/json' };
    }
    const response = await t.api(path, init);
    const text = await response.text();
    return { status: response.status, contentType: response.headers.get('content-type'), body: text ? JSON.parse(text) : undefined };
  }
  const open = (fileName: string, file: Buffer, token = ca, extra: Record<string, unknown> = {}) =>
    call('POST', '/api/states/CA/upload-sessions', token, { fileName, size: file.length, sha256: sha256(file, 'hex'), ...extra });
  const sendPart = (session: SessionBody, n: number, bytes: Buffer, token = ca, digest = sha256(bytes, 'base64')) =>
    call('PUT', `${new URL(session.url).pathname}/parts/${n}`, token, bytes, { 'content-digest': `sha-256=:${digest}:` });
  const commit = (session: SessionBody, token = ca) => call('POST', `${new URL(session.url).pathname}/commit`, token);
  const read = async (session: SessionBody, token = ca) => (await call('GET', new URL(session.url).pathname, token)).body as SessionBody;
  /** The commit verifies and stores the file after answering: the session, once it is no longer `verifying`. */
  const settled = (session: SessionBody) =>
    waitFor('the commit to settle', async () => {
      const now = await read(session);
      return now.status === 'verifying' ? undefined : now;
    });
  async function stagedBlobs(): Promise<string[]> {
    const names = [];
    for await (const blob of t.uploads.listBlobsFlat({ prefix: 'staging/', includeUncommitedBlobs: true })) names.push(blob.name);
    return names;
  }

  it('resumes after a cut: the client asks where to resume and sends only the parts the server lacks; every row lands', async () => {
    const file = csvOf(0, 3000);
    const path = join(t.stack.dataDir, 'resume.csv');
    await writeFile(path, file);
    const created = await open('resume.csv', file);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const session = created.body as SessionBody;
    expect(session).toMatchObject({ fileName: 'resume.csv', size: file.length, partBytes: PART, partCount: Math.ceil(file.length / PART), receivedBytes: 0 });
    expect((await sendPart(session, 1, partOf(file, 1))).status).toBe(200);
    expect((await sendPart(session, 2, partOf(file, 2))).status).toBe(200);
    // Part 3 is cut after half its bytes: the server keeps nothing of it.
    await cutRequest(`${new URL(session.url).pathname}/parts/3`, ca, partOf(file, 3), { 'content-digest': `sha-256=:${sha256(partOf(file, 3), 'base64')}:` });
    const where = await waitFor('the cut part to be given up', async () => {
      const state = await read(session);
      return state.missingParts[0] === 3 ? state : undefined;
    });
    expect(where.receivedBytes).toBe(2 * PART);
    expect(where.missingParts).toEqual(Array.from({ length: session.partCount - 2 }, (_, i) => i + 3));

    // The client of the CLI finds the open session by name, size and hash, and sends the rest.
    const result = await uploadFile({ baseUrl: t.url, state: 'CA', file: path, fileName: 'resume.csv', token: ca, parallel: 3 });
    expect(result.resumedBytes).toBe(2 * PART);
    expect(result.uploadBytes).toBe(file.length - 2 * PART);
    const final = await finalStatus(t, 'ca/resume.csv');
    expect(final).toMatchObject({ uploadId: result.uploadId, status: 'complete', rowsCommitted: 3000, rowsRejected: 0 });
    expect(await stagedBlobs()).toEqual([]);
  }, 120_000);

  it('takes a part re-sent twice (once while the first is in flight) and commits the file byte for byte', async () => {
    const file = csvOf(10_000, 11_500);
    const session = (await open('resent.csv', file)).body as SessionBody;
    const answers = await Promise.all([sendPart(session, 1, partOf(file, 1)), sendPart(session, 1, partOf(file, 1))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect((await sendPart(session, 1, partOf(file, 1))).status).toBe(200);
    for (let n = 2; n <= session.partCount; n += 1) expect((await sendPart(session, n, partOf(file, n))).status).toBe(200);
    const state = await read(session);
    expect((state as SessionBody & { parts: Array<{ number: number }> }).parts.map((p) => p.number)).toEqual(Array.from({ length: session.partCount }, (_, i) => i + 1));
    expect(state.receivedBytes).toBe(file.length);
    const committed = await commit(session);
    expect(committed.status, JSON.stringify(committed.body)).toBe(202);
    expect(committed.body).toMatchObject({ id: session.id, status: 'verifying', receivedBytes: file.length });
    // Asked again while it verifies (a client that lost the answer): the same answer, one commit.
    expect([200, 202]).toContain((await commit(session)).status);
    const done = await settled(session);
    expect(done).toMatchObject({ status: 'committed', uploadId: expect.any(String), statusUrl: expect.stringContaining('/api/uploads/') });
    expect(await commit(session)).toMatchObject({ status: 200, body: { status: 'committed', uploadId: done.uploadId } });
    // A finished session no longer holds its name, nor takes parts.
    expect((await sendPart(session, 1, partOf(file, 1))).body).toMatchObject({ title: 'Upload session ended' });
    const stored = await t.uploads.getBlobClient('ca/resent.csv').downloadToBuffer();
    expect(sha256(stored, 'hex')).toBe(sha256(file, 'hex'));
    expect(await finalStatus(t, 'ca/resent.csv')).toMatchObject({ uploadId: done.uploadId, status: 'complete', rowsCommitted: 1500 });
    expect(await stagedBlobs()).toEqual([]);
  }, 120_000);

  it('refuses a corrupted part by its checksum and a commit with parts missing', async () => {
    const file = csvOf(20_000, 21_000);
    const session = (await open('corrupt.csv', file)).body as SessionBody;
    const damaged = Buffer.from(partOf(file, 1));
    damaged[100] = damaged[100]! ^ 0x01;
    const refused = await sendPart(session, 1, damaged, ca, sha256(partOf(file, 1), 'base64'));
    expect(refused.status).toBe(400);
    expect(refused.contentType).toBe('application/problem+json');
    expect(refused.body).toMatchObject({ title: 'Checksum mismatch' });
    const noDigest = await call('PUT', `${new URL(session.url).pathname}/parts/1`, ca, partOf(file, 1));
    expect(noDigest).toMatchObject({ status: 400, body: { title: 'Content-Digest required' } });
    const wrongLength = await sendPart(session, 1, partOf(file, 1).subarray(1));
    expect(wrongLength).toMatchObject({ status: 400, body: { title: 'Wrong part length' } });
    expect((await read(session)).missingParts[0]).toBe(1);
    const early = await commit(session);
    expect(early).toMatchObject({ status: 409, body: { title: 'Parts missing' } });
    expect(early.body.missingParts).toEqual(Array.from({ length: session.partCount }, (_, i) => i + 1));
    // The session is still open for the right bytes.
    expect((await sendPart(session, 1, partOf(file, 1))).status).toBe(200);
    expect((await call('DELETE', new URL(session.url).pathname, ca)).status).toBe(204);
    expect((await call('GET', new URL(session.url).pathname, ca)).status).toBe(404);
    expect(await stagedBlobs()).toEqual([]);
  }, 60_000);

  it('refuses a wrong whole-file hash at commit: nothing is stored, nothing ingested, nothing staged', async () => {
    const file = csvOf(30_000, 31_000);
    const other = csvOf(40_000, 41_000);
    const session = (await open('wronghash.csv', file, ca, { sha256: sha256(other, 'hex') })).body as SessionBody;
    for (let n = 1; n <= session.partCount; n += 1) expect((await sendPart(session, n, partOf(file, n))).status).toBe(200);
    const accepted = await commit(session);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const refused = await settled(session);
    expect(refused).toMatchObject({ status: 'failed', failure: { title: 'Checksum mismatch' } });
    expect(refused.uploadId).toBeUndefined();
    const again = await commit(session);
    expect(again).toMatchObject({ status: 409, contentType: 'application/problem+json', body: { title: 'Checksum mismatch' } });
    expect(await t.uploads.getBlobClient('ca/wronghash.csv').exists()).toBe(false);
    expect(await stagedBlobs()).toEqual([]);
    const { rows } = await t.pool.query("SELECT count(*)::int AS n FROM bulkflow.uploads WHERE source LIKE '%wronghash%'");
    expect(rows[0].n).toBe(0);
    // The name is free again for the right file; the refused session goes when asked.
    const retry = await open('wronghash.csv', file);
    expect(retry.status).toBe(201);
    expect((await call('DELETE', new URL(retry.body.url).pathname, ca)).status).toBe(204);
    expect((await call('DELETE', new URL(session.url).pathname, ca)).status).toBe(204);
    expect((await call('GET', new URL(session.url).pathname, ca)).status).toBe(404);
  }, 60_000);

  it('stores a file once when its commit runs again (a retried activity finds the copy it started)', async () => {
    const staged = createStagedUploads(() => t.uploads);
    const id = randomUUID();
    const file = csvOf(95_000, 95_200);
    const body = Readable.toWeb(Readable.from([file])) as unknown as WebReadableStream<Uint8Array>;
    const part = await staged.stagePart({ state: 'ca', sessionId: id, partNumber: 1, body: body as unknown as ReadableStream<Uint8Array>, length: file.length });
    await staged.assemble('ca', id, [part.blockId]);
    await staged.assemble('ca', id, [part.blockId]);
    expect((await staged.digest('ca', id)).toString('hex')).toBe(sha256(file, 'hex'));
    const first = await staged.publish('ca', id, 'twice.csv');
    expect(await staged.publish('ca', id, 'twice.csv')).toBe(first);
    await staged.discard('ca', id);
    expect(await finalStatus(t, 'ca/twice.csv')).toMatchObject({ status: 'complete', rowsCommitted: 200 });
    const { rows } = await t.pool.query("SELECT count(*)::int AS n FROM bulkflow.uploads WHERE source LIKE '%twice.csv%'");
    expect(rows[0].n).toBe(1);
  }, 60_000);

  it('gives the session back, parts listed, when its commit fails past its retries (the orchestration reopens it)', async () => {
    const file = csvOf(97_000, 97_600);
    const session = (await open('lost.csv', file)).body as SessionBody;
    for (let n = 1; n <= session.partCount; n += 1) expect((await sendPart(session, n, partOf(file, n))).status).toBe(200);
    // The staged blocks vanish behind the app's back: every attempt to put the file together fails.
    await createStagedUploads(() => t.uploads).discard('ca', session.id);
    expect((await commit(session)).status).toBe(202);
    const back = await waitFor('the commit to give up', async () => {
      const now = await read(session);
      return now.status === 'open' ? now : undefined;
    }, 150_000);
    expect(back).toMatchObject({ status: 'open', failure: { title: 'Commit failed' }, receivedBytes: file.length, missingParts: [] });
    expect(await t.uploads.getBlobClient('ca/lost.csv').exists()).toBe(false);
    expect((await call('DELETE', new URL(session.url).pathname, ca)).status).toBe(204);
  }, 180_000);

  it('lets one of two uploads of one name win; the other gets 409, never a 500 (many rounds, single PUTs too)', async () => {
    const file = csvOf(50_000, 50_400);
    const [a, b] = await Promise.all([open('same.csv', file), open('same.csv', file)]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const loser = a.status === 409 ? a : b;
    expect(loser.contentType).toBe('application/problem+json');
    expect(loser.body).toMatchObject({ title: 'Upload in progress' });
    const winner = (a.status === 201 ? a : b).body as SessionBody;
    expect(loser.body.session).toBe(winner.url);
    expect((await call('DELETE', new URL(winner.url).pathname, ca)).status).toBe(204);

    // Two PUTs of one name at once: the race that answered 500 ("The specified block list is invalid").
    const small = csvOf(60_000, 60_300);
    const statuses: number[] = [];
    for (let round = 0; round < 25; round += 1) {
      const answers = await Promise.all([0, 1].map(() => call('PUT', `/api/states/CA/uploads/race-${round % 5}.csv`, ca, small)));
      for (const answer of answers) {
        statuses.push(answer.status);
        expect([202, 409], JSON.stringify(answer.body)).toContain(answer.status);
        if (answer.status === 409) expect(answer.contentType).toBe('application/problem+json');
      }
      expect(answers.some((answer) => answer.status === 202)).toBe(true);
    }
    expect(statuses.filter((s) => s === 409).length).toBeGreaterThan(0);
    expect(await stagedBlobs()).toEqual([]);
  }, 180_000);

  it('ends abandoned uploads after UPLOAD_ABANDON_HOURS and deletes their staged bytes', async () => {
    const file = csvOf(70_000, 71_000);
    const session = (await open('abandoned.csv', file)).body as SessionBody;
    expect((await sendPart(session, 1, partOf(file, 1))).status).toBe(200);
    expect((await sendPart(session, 2, partOf(file, 2))).status).toBe(200);
    expect(await stagedBlobs()).toEqual([`staging/ca/${session.id}`]);
    const deps = {
      db: async () => t.pool,
      staged: createStagedUploads(() => t.uploads),
      containerName: 'uploads',
      limits: () => ({ maxBytes: 1 << 30, partBytes: PART, abandonHours: 24 }),
    };
    const warnings: string[] = [];
    const context = { warn: (message: string) => void warnings.push(message) };
    // Not yet idle long enough: nothing ends.
    expect(await expireAbandonedSessions(deps, context)).toBe(0);
    await t.pool.query("UPDATE bulkflow.upload_sessions SET last_activity = now() - interval '25 hours' WHERE id = $1", [session.id]);
    expect(await expireAbandonedSessions(deps, context)).toBe(1);
    expect(warnings).toEqual([]);
    expect(await stagedBlobs()).toEqual([]);
    expect((await call('GET', new URL(session.url).pathname, ca)).status).toBe(404);
    // A part that was still on its way finds the session gone and leaves nothing behind.
    const late = await sendPart(session, 3, partOf(file, 3));
    expect(late.status).toBe(404);
    expect(await stagedBlobs()).toEqual([]);
  }, 60_000);

  it("refuses another state's token at every step (403 for its state's routes, 404 for a session of another state)", async () => {
    const file = csvOf(80_000, 80_600);
    const session = (await open('guarded.csv', file)).body as SessionBody;
    const path = new URL(session.url).pathname;
    const operator = undefined as unknown as string; // t.api's default: the operator's token
    const cases: Array<[string, string, string, unknown, Record<string, string>?]> = [
      ['POST', '/api/states/CA/upload-sessions', tx, { fileName: 'x.csv', size: 10 }],
      ['GET', '/api/states/CA/upload-sessions', tx, undefined],
      ['GET', path, tx, undefined],
      ['PUT', `${path}/parts/1`, tx, partOf(file, 1), { 'content-digest': `sha-256=:${sha256(partOf(file, 1), 'base64')}:` }],
      ['POST', `${path}/commit`, tx, undefined],
      ['DELETE', path, tx, undefined],
      ['POST', '/api/states/CA/upload-sessions', operator, { fileName: 'x.csv', size: 10 }],
      ['GET', path, operator, undefined],
    ];
    for (const [method, target, token, body, headers] of cases) {
      const answer = await call(method, target, token, body, headers);
      expect(answer.status, `${method} ${target}`).toBe(403);
      expect(answer.contentType).toBe('application/problem+json');
    }
    // TX's own routes with CA's session id: not found, as if it did not exist.
    const foreign = path.replace('/states/CA/', '/states/TX/');
    for (const [method, target, body, headers] of [
      ['GET', foreign, undefined],
      ['PUT', `${foreign}/parts/1`, partOf(file, 1), { 'content-digest': `sha-256=:${sha256(partOf(file, 1), 'base64')}:` }],
      ['POST', `${foreign}/commit`, undefined],
      ['DELETE', foreign, undefined],
    ] as Array<[string, string, unknown, Record<string, string>?]>) {
      const answer = await call(method, target, tx, body, headers);
      expect(answer.status, `${method} ${target}`).toBe(404);
      expect(answer.body).toMatchObject({ title: 'Upload session not found' });
    }
    expect((await call('GET', '/api/states/TX/upload-sessions', tx)).body.sessions).toEqual([]);
    const still = await read(session);
    expect(still.receivedBytes).toBe(0);
    expect((await call('DELETE', path, ca)).status).toBe(204);
  }, 60_000);

  it('answers a single PUT above the part size with a problem detail naming the resumable route', async () => {
    const answer = await call('PUT', '/api/states/CA/uploads/big.csv', ca, Buffer.alloc(PART + 1, 0x61));
    expect(answer.status).toBe(413);
    expect(answer.contentType).toBe('application/problem+json');
    expect(answer.body.detail).toContain('/api/states/CA/upload-sessions');
  });

  it('deletes what a cut single PUT staged, at once (the host ends the invocation when the client leaves)', async () => {
    const file = csvOf(90_000, 90_400);
    await cutRequest('/api/states/CA/uploads/cut.csv', ca, file);
    await waitFor('the cut upload to end', async () => {
      const { rows } = await t.pool.query("SELECT count(*)::int AS n FROM bulkflow.upload_sessions WHERE file_name = 'cut.csv'");
      return rows[0].n === 0 ? true : undefined;
    }, 20_000);
    expect(await stagedBlobs()).toEqual([]);
    expect(await t.uploads.getBlobClient('ca/cut.csv').exists()).toBe(false);
  }, 60_000);

  /** Sends half of `body` with the whole length declared, then closes the connection. */
  function cutRequest(path: string, token: string, body: Buffer, headers: Record<string, string> = {}): Promise<void> {
    return new Promise((resolve) => {
      const req = request(`${t.url}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': String(body.length), ...headers } });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => {
        req.destroy();
        resolve();
      }, 300));
    });
  }
});
