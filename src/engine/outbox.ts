import type { Queryable } from './db.js';
import {
  EVENT_SOURCE, MATCH_DISPOSITION_UPDATED, MATCHES_UPDATED, UPLOAD_COMPLETED, UPLOAD_FAILED,
  type DispositionUpdatedData, type EventType, type MatchesUpdatedData, type QueryMatchesUpdatedData, type UploadEventData,
} from './eventData.js';

/** Writes the upload's completion CloudEvent in the caller's transaction; once per upload and type. */
export async function writeUploadEvent(
  db: Queryable,
  type: typeof UPLOAD_COMPLETED | typeof UPLOAD_FAILED,
  data: UploadEventData,
): Promise<void> {
  const suffix = type === UPLOAD_COMPLETED ? 'completed' : 'failed';
  await writeEvent(db, `${data.uploadId}.${suffix}`, type, `states/${data.state}/uploads/${data.uploadId}`, data);
}

/** Writes a query's announcements in the query's transaction, in one statement; once per query and state. */
export async function writeQueryMatchesEvents(db: Queryable, events: readonly QueryMatchesUpdatedData[]): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `INSERT INTO bulkflow.outbox (id, type, source, subject, data)
     SELECT e.data->>'queryId' || '.matches.' || (e.data->>'state'), $2, $3, 'states/' || (e.data->>'state') || '/matches', e.data
     FROM unnest($1::jsonb[]) AS e(data)
     ON CONFLICT (id) DO NOTHING`,
    [events.map((event) => JSON.stringify(event)), MATCHES_UPDATED, EVENT_SOURCE],
  );
}

/** Writes a run's announcement for one state in the run's transaction; once per run and state. */
export async function writeMatchesEvent(db: Queryable, data: MatchesUpdatedData): Promise<void> {
  await writeEvent(db, `${data.runId}.matches.${data.state}`, MATCHES_UPDATED, `states/${data.state}/matches`, data);
}

/** An event id is written once: a repeated write (a retried transaction) changes nothing. Its type has a schema (eventData.ts). */
async function writeEvent(db: Queryable, id: string, type: EventType, subject: string, data: object): Promise<void> {
  await db.query(
    `INSERT INTO bulkflow.outbox (id, type, source, subject, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
    [id, type, EVENT_SOURCE, subject, data],
  );
}

/** Writes one change's notification in the change's transaction; the id is the record's version, so once per change. */
export async function writeDispositionEvent(db: Queryable, eventId: string, data: DispositionUpdatedData): Promise<void> {
  await writeEvent(db, eventId, MATCH_DISPOSITION_UPDATED, `states/${data.state}/matches/${data.matchId}`, data);
}
