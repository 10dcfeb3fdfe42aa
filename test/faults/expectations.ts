import { expect } from 'vitest';
import { blobSource } from '../../src/engine/index.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { waitFor, type TestStack } from '../support/localStack.js';

/** After a fault: the upload is whole and once — every valid row active once, one upload row, one completion event. */
export async function expectIngestedOnce(t: TestStack, status: UploadStatusBody, validRows: number): Promise<void> {
  expect(status).toMatchObject({ status: 'complete', isActive: true, rowsCommitted: validRows });
  const rows = await t.pool.query<{ n: number; d: number }>(
    'SELECT count(*)::int AS n, count(DISTINCT participant_id)::int AS d FROM bulkflow.active_participants WHERE state = $1',
    [status.state],
  );
  expect(rows.rows[0]).toEqual({ n: validRows, d: validRows });
  const uploads = await t.pool.query('SELECT upload_id FROM bulkflow.uploads WHERE source = $1', [blobSource('uploads', status.blobName)]);
  expect(uploads.rows).toEqual([{ upload_id: status.uploadId }]);
  // The completion event is written once and eventually published (match announcements name the upload too).
  const events = await waitFor('the completion event to be published', async () => {
    const { rows: outbox } = await t.pool.query<{ id: string; published: boolean }>(
      `SELECT id, published_at IS NOT NULL AS published FROM bulkflow.outbox WHERE data->>'uploadId' = $1 AND type LIKE 'gov.bulkflow.upload.%'`,
      [status.uploadId],
    );
    return outbox.every((e) => e.published) ? outbox : undefined;
  });
  expect(events.map((e) => e.id)).toEqual([`${status.uploadId}.completed`]);
}
