import { describe, expect, it } from 'vitest';
import { contract } from '../support/contract.js';

/** The checker every end-to-end answer goes through: it must refuse what the contract does not describe. */
describe('the contract check of answers', () => {
  const { check } = contract();
  const status = {
    uploadId: 'ca-0123456789abcdef0123', instanceId: 'ingest-ca-0123456789abcdef0123', state: 'CA', blobName: 'ca/a.csv', status: 'complete',
    isActive: true, rowsTotal: 3, rowsCommitted: 3, rowsRejected: 0, chunksDone: 1, chunksTotal: 1, percent: 100,
    startedAt: '2026-12-07T05:00:00.000Z', completedAt: '2026-12-07T05:00:01.000Z', rowsPerSecond: 3, error: null, errorCounts: {}, warnings: [],
    links: { self: '/api/uploads/x', errors: '/api/uploads/x/errors', orchestration: '/api/uploads/x/orchestration' },
  };
  const answer = (body: unknown, init: ResponseInit = {}) =>
    new Response(JSON.stringify(body), { status: 200, ...init, headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });

  it('passes an answer the contract describes', async () => {
    await expect(check('GET', '/api/uploads/ca-0123456789abcdef0123', answer(status))).resolves.toBeUndefined();
    await expect(check('GET', '/api/uploads', answer(status))).resolves.toBeUndefined();
  });

  it('fails a body missing a documented field, or carrying an undocumented one, or of the wrong type', async () => {
    const { rowsCommitted: _dropped, ...missing } = status;
    await expect(check('GET', '/api/uploads/ca-0123456789abcdef0123', answer(missing))).rejects.toThrow(/uploadStatus\) answered 200 with a body its contract does not describe: \/ must have required property 'rowsCommitted'/);
    await expect(check('GET', '/api/uploads/ca-0123456789abcdef0123', answer({ ...status, hash: 'x' }))).rejects.toThrow(/additional properties \(hash\)/);
    await expect(check('GET', '/api/uploads/ca-0123456789abcdef0123', answer({ ...status, startedAt: 'yesterday' }))).rejects.toThrow(/\/startedAt must match format "date-time"/);
  });

  it('fails a route or status with no contract, naming where to declare it', async () => {
    await expect(check('GET', '/api/nowhere', answer({}))).rejects.toThrow(/no contract for GET \/api\/nowhere: .*src\/functions\/httpRoutes\.ts/);
    await expect(check('DELETE', '/api/uploads/ca-0123456789abcdef0123', answer({}))).rejects.toThrow(/no contract for DELETE/);
    await expect(check('GET', '/api/uploads/ca-0123456789abcdef0123', answer(status, { status: 418 }))).rejects.toThrow(/answered 418, which its contract does not declare/);
  });

  it('fails a refusal that is not a problem detail, or lacks the header its contract requires', async () => {
    const problem = { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'a valid bearer token is required' };
    const challenge = { 'www-authenticate': 'Bearer realm="bulkflow"' };
    await expect(check('GET', '/api/states', new Response(JSON.stringify(problem), { status: 401, headers: { 'content-type': 'application/problem+json', ...challenge } }))).resolves.toBeUndefined();
    await expect(check('GET', '/api/states', answer(problem, { status: 401, headers: challenge }))).rejects.toThrow(/as application\/json; its contract declares application\/problem\+json/);
    await expect(check('GET', '/api/states', new Response(JSON.stringify(problem), { status: 401, headers: { 'content-type': 'application/problem+json' } }))).rejects.toThrow(/without its www-authenticate header/);
  });

  it('leaves the host\'s own paths alone', async () => {
    await expect(check('GET', '/runtime/webhooks/durabletask/instances/x', answer({ anything: true }))).resolves.toBeUndefined();
  });
});
