import { describe, expect, it } from 'vitest';
import { EventHubProducerClient } from '@azure/event-hubs';
import { publishPendingEvents } from '../../src/adapters/eventPublisher.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { CSV_HEADER, finalStatus, hashOf } from '../support/uploads.js';
import { readHub } from '../support/eventHub.js';
import { useTestStack, waitFor, type TestStack } from '../support/localStack.js';

/** A small valid file whose lds_hash values are hashOf(from) .. hashOf(to - 1). */
const csv = (from: number, to: number, bad = 0) => {
  const rows = [CSV_HEADER];
  for (let i = from; i < to; i++) rows.push(`${hashOf(i)},P${i},C${i}`);
  for (let i = 0; i < bad; i++) rows.push(`not-a-hash,B${i},C${i}`);
  return `${rows.join('\n')}\n`;
};

async function upload(t: TestStack, blobName: string, content: string): Promise<void> {
  await t.uploads.getBlockBlobClient(blobName).upload(content, Buffer.byteLength(content));
}

describe('upload lifecycle through the local host', () => {
  /** The match-analysis trigger's line per batch it ran (information level); warnings and errors still printed. */
  const analysisLines: string[] = [];
  const t = useTestStack({}, {
    logLevel: 'information',
    log: (line) => {
      if (line.includes('match analysis: ')) analysisLines.push(line);
      if (/\s(warning|error)\s/.test(line)) console.error(line);
    },
  });

  it('matches a new upload against every other state\'s active upload, once per event', async () => {
    await upload(t, 'ny/a.csv', csv(0, 300));
    await upload(t, 'nj/a.csv', csv(1000, 1100));
    const ny = await finalStatus(t, 'ny/a.csv');
    const nj = await finalStatus(t, 'nj/a.csv');
    // PA shares 40 hashes with NY and 25 with NJ.
    await upload(t, 'pa/a.csv', `${csv(260, 300)}${csv(1075, 1100).split('\n').slice(1).join('\n')}${csv(5000, 5010).split('\n').slice(1).join('\n')}`);
    const pa = await finalStatus(t, 'pa/a.csv');
    expect(pa.status).toBe('complete');
    const run = await waitFor('the match-analysis run', async () => {
      const { rows } = await t.pool.query('SELECT event_id, results FROM bulkflow.match_runs WHERE upload_id = $1', [pa.uploadId]);
      return rows[0] as { event_id: string; results: Array<{ state: string; matches: number }> } | undefined;
    });
    expect(run.event_id).toBe(`${pa.uploadId}.completed`);
    expect(run.results).toEqual([{ state: 'NJ', matches: 25, new: 25, closed: 0 }, { state: 'NY', matches: 40, new: 40, closed: 0 }]);

    // Another consumer group sees each completion event exactly once, partitioned by state; a state's notifier, with
    // its own consumer group, sees each run's announcement to its state.
    const completed = await readHub(t, '$Default', 'gov.bulkflow.upload.completed', 3);
    expect(completed.map((e) => e.id).sort()).toEqual([nj, ny, pa].map((u) => `${u.uploadId}.completed`).sort());
    expect(completed.find((e) => e.id === `${pa.uploadId}.completed`)?.partitionKey).toBe('PA');
    const announced = await readHub(t, 'match-notifications', 'gov.bulkflow.matches.updated', 5);
    const counts = (state: string, counts: { new: number; stillOpen: number; closed: number }, of = pa) => ({
      id: `${of.uploadId}.completed.matches.${state}`, partitionKey: state,
      data: { state, runId: `${of.uploadId}.completed`, uploadId: of.uploadId, uploadState: of.state, ...counts },
    });
    const none = { new: 0, stillOpen: 0, closed: 0 };
    expect(announced.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
      [counts('NJ', none, nj), counts('NY', none, ny), counts('NJ', { ...none, new: 25 }), counts('NY', { ...none, new: 40 }), counts('PA', { ...none, new: 65 })]
        .sort((x, y) => x.id.localeCompare(y.id)),
    );

    // The trigger is at-least-once: PA's completion event delivered again through the hub is received by match
    // analysis, finds its stored run, and changes no record, run or announcement.
    const snapshot = async () => Promise.all([
      t.pool.query('SELECT event_id, results FROM bulkflow.match_runs ORDER BY event_id'),
      t.pool.query('SELECT m::text FROM bulkflow.matches m ORDER BY match_id'),
      t.pool.query(`SELECT id FROM bulkflow.outbox WHERE type = 'gov.bulkflow.matches.updated' ORDER BY id`),
    ]).then((results) => results.map((r) => r.rows));
    const before = await snapshot();
    expect(before[0]).toHaveLength(3);
    expect(before[1]).toHaveLength(65);
    const batchesBefore = analysisLines.length;
    await t.pool.query('UPDATE bulkflow.outbox SET published_at = NULL WHERE id = $1', [`${pa.uploadId}.completed`]);
    const producer = new EventHubProducerClient(t.stack.settings.EventHubConnection!, 'upload-events');
    try {
      await publishPendingEvents(t.pool, () => producer, new URL(t.url).host);
    } finally {
      await producer.close();
    }
    // Announcements are not runs: the only batch that evaluates nothing is the replay.
    await waitFor('match analysis to receive the replayed event', async () =>
      analysisLines.slice(batchesBefore).find((line) => /match analysis: \d+ run\(s\) for \d+ event\(s\), 0 evaluated/.test(line)));
    expect(await snapshot()).toEqual(before);
  });

  it('fails an upload above the rejected-row limit and keeps the previous one active and matchable', async () => {
    await upload(t, 'oh/good.csv', csv(0, 100));
    const good = await finalStatus(t, 'oh/good.csv');
    expect(good.status).toBe('complete');
    await upload(t, 'oh/bad.csv', csv(100, 180, 20)); // 20 of 100 rows bad: 20 % > 5 %
    const bad = await finalStatus(t, 'oh/bad.csv');
    expect(bad).toMatchObject({ status: 'failed', isActive: false, rowsRejected: 20 });
    expect(bad.error?.code).toBe('too_many_rejected');
    const state = (await (await t.api(`/api/states/oh/uploads`)).json()) as { activeUploadId: string };
    expect(state.activeUploadId).toBe(good.uploadId);
    const rows = await t.pool.query(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE state = 'OH'`);
    expect(rows.rows[0].n).toBe(100);
  });

  it('supersedes the old upload when the same blob is overwritten with new content', async () => {
    await upload(t, 'wa/monthly.csv', csv(0, 50));
    const first = await finalStatus(t, 'wa/monthly.csv');
    await upload(t, 'wa/monthly.csv', csv(50, 120));
    const second = await finalStatus(t, 'wa/monthly.csv', { notUploadId: first.uploadId });
    expect(second.uploadId).not.toBe(first.uploadId);
    expect(second).toMatchObject({ status: 'complete', isActive: true, rowsCommitted: 70 });
    const old = (await (await t.api(`/api/uploads/${first.uploadId}`)).json()) as UploadStatusBody;
    expect(old).toMatchObject({ status: 'superseded', isActive: false });
    const rows = await t.pool.query(`SELECT min(participant_id) AS first, count(*)::int AS n FROM bulkflow.active_participants WHERE state = 'WA'`);
    expect(rows.rows[0]).toEqual({ first: 'P100', n: 70 });
  });
});
