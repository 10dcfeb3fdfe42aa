import { describe, expect, it } from 'vitest';
import type { UploadView } from '../../src/engine/index.js';
import type { UploadProgressState } from '../../src/entities/uploadProgress.js';
import { statusBody } from '../../src/status/statusBody.js';

const REGISTERED = '2026-01-01T00:00:00.000Z';
const NOW = new Date('2026-01-01T00:00:10.000Z');

/** A running upload of 1,000 rows in 4 planned chunks, 2 of them in the ledger. */
function view(changes: Partial<UploadView> = {}): UploadView {
  return {
    uploadId: 'ca-14f6b4c5016e0e0e1e94', state: 'CA', source: 'uploads/ca/participants.csv', etag: '0x1', status: 'running',
    active: false, registeredAt: REGISTERED, completedAt: null, failedAt: null, supersededAt: null, supersededBy: null,
    sizeBytes: 100_000, rowsTotal: 1000, rowsCommitted: 490, rowsRejected: 10, chunksPlanned: 4, chunksCommitted: 2,
    errorCounts: { invalid_date: 10 }, warnings: [], error: null,
    ...changes,
  };
}

function live(changes: Partial<UploadProgressState> = {}): UploadProgressState {
  return {
    status: 'running', chunksTotal: 4, rowsTotal: 1000, chunksDone: 3, rowsCommitted: 735, rowsRejected: 15,
    startedAt: REGISTERED, updatedAt: REGISTERED, ...changes,
  };
}

describe('upload status read model', () => {
  it('while running, takes the progress entity when it is at or ahead of the ledger', () => {
    expect(statusBody(view(), live(), NOW)).toMatchObject({
      status: 'running', rowsCommitted: 735, rowsRejected: 15, chunksDone: 3, chunksTotal: 4, rowsTotal: 1000, percent: 75, rowsPerSecond: 75,
    });
    expect(statusBody(view(), live({ chunksDone: 2, rowsCommitted: 495, rowsRejected: 5 }), NOW)).toMatchObject({
      rowsCommitted: 495, rowsRejected: 5, chunksDone: 2,
    });
  });

  it('while running, takes the ledger when the entity is behind it or absent', () => {
    const fromLedger = { rowsCommitted: 490, rowsRejected: 10, chunksDone: 2, chunksTotal: 4, percent: 50, rowsPerSecond: 50 };
    expect(statusBody(view(), live({ chunksDone: 1, rowsCommitted: 250, rowsRejected: 0 }), NOW)).toMatchObject(fromLedger);
    expect(statusBody(view(), undefined, NOW)).toMatchObject(fromLedger);
    expect(statusBody(view({ status: 'pending' }), live({ chunksDone: 0 }), NOW)).toMatchObject(fromLedger);
  });

  it('before the plan is stored, takes totals from the entity; with no totals, progress is by chunks or zero', () => {
    const unplanned = view({ status: 'pending', rowsTotal: null, chunksPlanned: 0, chunksCommitted: 0, rowsCommitted: 0, rowsRejected: 0 });
    expect(statusBody(unplanned, live({ chunksTotal: 10, rowsTotal: 2000, chunksDone: 1, rowsCommitted: 190, rowsRejected: 10 }), NOW))
      .toMatchObject({ chunksTotal: 10, rowsTotal: 2000, percent: 10 });
    expect(statusBody(unplanned, live({ rowsTotal: 0, chunksTotal: 0, chunksDone: 0, rowsCommitted: 0, rowsRejected: 0 }), NOW))
      .toMatchObject({ rowsTotal: null, chunksTotal: 0, percent: 0, rowsPerSecond: null });
    expect(statusBody(view({ rowsTotal: null, chunksCommitted: 1 }), undefined, NOW)).toMatchObject({ rowsTotal: null, percent: 25 });
    expect(statusBody(view({ rowsCommitted: 1200 }), undefined, NOW).percent).toBe(100);
  });

  it('once final, the database is the truth whatever the entity last said', () => {
    const complete = view({
      status: 'complete', active: true, completedAt: '2026-01-01T00:00:04.000Z', chunksCommitted: 4, rowsCommitted: 988, rowsRejected: 12,
    });
    expect(statusBody(complete, live({ chunksDone: 4, rowsCommitted: 990, rowsRejected: 10 }), NOW)).toMatchObject({
      status: 'complete', isActive: true, rowsCommitted: 988, rowsRejected: 12, chunksDone: 4, percent: 100,
      completedAt: '2026-01-01T00:00:04.000Z', rowsPerSecond: 250,
    });
    const failed = view({ status: 'failed', failedAt: '2026-01-01T00:00:02.000Z', error: { code: 'empty_file', message: 'empty', line: null } });
    expect(statusBody(failed, live(), NOW)).toMatchObject({
      status: 'failed', percent: 100, completedAt: '2026-01-01T00:00:02.000Z', rowsPerSecond: 250, error: { code: 'empty_file' },
    });
    expect(statusBody(view({ status: 'superseded', completedAt: REGISTERED }), undefined, NOW).rowsPerSecond).toBeNull();
  });

  it('names the upload by its ids and links, never by row data', () => {
    expect(statusBody(view(), undefined, NOW)).toEqual({
      uploadId: 'ca-14f6b4c5016e0e0e1e94',
      instanceId: 'ingest-ca-14f6b4c5016e0e0e1e94',
      state: 'CA',
      blobName: 'ca/participants.csv',
      status: 'running',
      isActive: false,
      rowsTotal: 1000,
      rowsCommitted: 490,
      rowsRejected: 10,
      chunksDone: 2,
      chunksTotal: 4,
      percent: 50,
      startedAt: REGISTERED,
      completedAt: null,
      rowsPerSecond: 50,
      error: null,
      errorCounts: { invalid_date: 10 },
      warnings: [],
      links: {
        self: '/api/uploads/ca-14f6b4c5016e0e0e1e94',
        errors: '/api/uploads/ca-14f6b4c5016e0e0e1e94/errors',
      },
    });
  });

  it('links operators to the orchestration console\'s API, never to the durable management API (it needs the host\'s key)', () => {
    expect(statusBody(view(), undefined, NOW, true).links).toEqual({
      self: '/api/uploads/ca-14f6b4c5016e0e0e1e94',
      errors: '/api/uploads/ca-14f6b4c5016e0e0e1e94/errors',
      orchestration: '/api/uploads/ca-14f6b4c5016e0e0e1e94/orchestration',
    });
  });
});
