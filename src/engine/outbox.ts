import type { Queryable } from './db.js';

export const EVENT_SOURCE = '/bulkflow';
export const UPLOAD_COMPLETED = 'gov.bulkflow.upload.completed';
export const UPLOAD_FAILED = 'gov.bulkflow.upload.failed';

/** Ids and counts only: an event never carries row values. */
export interface UploadEventData {
  uploadId: string;
  state: string;
  source: string;
  status: string;
  activated: boolean;
  rowsTotal: number | null;
  rowsCommitted: number | null;
  rowsRejected: number | null;
  errorCode?: string;
  errorLine?: number;
  supersededBy?: string;
}

/** Writes the upload's completion CloudEvent in the caller's transaction; once per upload and type. */
export async function writeUploadEvent(
  db: Queryable,
  type: typeof UPLOAD_COMPLETED | typeof UPLOAD_FAILED,
  data: UploadEventData,
): Promise<void> {
  const suffix = type === UPLOAD_COMPLETED ? 'completed' : 'failed';
  await writeEvent(db, `${data.uploadId}.${suffix}`, type, `states/${data.state}/uploads/${data.uploadId}`, data);
}

export const MATCHES_UPDATED = 'gov.bulkflow.matches.updated';

/** Counts and ids only: the records themselves are read through the state-scoped API. */
export interface MatchesUpdatedData {
  /** The state this event is for (its partition key): one of the run's states. */
  state: string;
  /** The match run (the id of the completion event it answered). */
  runId: string;
  /** The upload whose activation the run answered, and its state. */
  uploadId: string;
  uploadState: string;
  /** Records involving `state` that the run opened, left open, and closed. */
  new: number;
  stillOpen: number;
  closed: number;
}

/**
 * A real-time query's announcement to a state it opened records with (the same type as a run's, so one notifier reads
 * both): ids and counts only, never a hash or a participant's id.
 */
export interface QueryMatchesUpdatedData {
  /** The state this event is for (its partition key): the other state of the records. */
  state: string;
  initiator: 'query';
  /** The query: the id of the request that asked it (its audit record's requestId). */
  queryId: string;
  /** The state that asked. */
  queryState: string;
  /** Records with `state` the query created (or opened again), and their ids. */
  new: number;
  matchIds: string[];
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

/** An event id is written once: a repeated write (a retried transaction) changes nothing. */
async function writeEvent(db: Queryable, id: string, type: string, subject: string, data: object): Promise<void> {
  await db.query(
    `INSERT INTO bulkflow.outbox (id, type, source, subject, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
    [id, type, EVENT_SOURCE, subject, data],
  );
}

export const MATCH_DISPOSITION_UPDATED = 'gov.bulkflow.matches.dispositionUpdated';

/** Ids and field names only: the values are read through the record's API by its two states. */
export interface DispositionUpdatedData {
  /** The state this event is for (its partition key): the record's other state, or each state for an operator's change. */
  state: string;
  matchId: string;
  /** The state whose side changed; null for an operator's reopening. */
  changedBy: string | null;
  /** The record's version after the change (its ETag). */
  version: number;
  /** The disposition fields whose value changed (none for a reopening). */
  fields: string[];
  status: 'open' | 'closed';
}

/** Writes one change's notification in the change's transaction; the id is the record's version, so once per change. */
export async function writeDispositionEvent(db: Queryable, eventId: string, data: DispositionUpdatedData): Promise<void> {
  await writeEvent(db, eventId, MATCH_DISPOSITION_UPDATED, `states/${data.state}/matches/${data.matchId}`, data);
}
