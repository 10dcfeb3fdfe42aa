import { z } from 'zod';

/**
 * The data of each CloudEvent the app publishes on the `upload-events` hub: ids, counts and field names, never row
 * values. The outbox writers (outbox.ts) are typed by these schemas; the API serves each as JSON Schema at its
 * events' `dataschema` URL, and the AsyncAPI document describes the hub with them.
 */

export const EVENT_SOURCE = '/bulkflow';
export const UPLOAD_COMPLETED = 'gov.bulkflow.upload.completed';
export const UPLOAD_FAILED = 'gov.bulkflow.upload.failed';
export const MATCHES_UPDATED = 'gov.bulkflow.matches.updated';
export const MATCH_DISPOSITION_UPDATED = 'gov.bulkflow.matches.dispositionUpdated';

const count = z.number().int().min(0);
const state = z.string().regex(/^[A-Z]{2}$/).meta({ description: 'The state this event is for: its partition key.', examples: ['CA'] });

/** An upload reached its end: activated, superseded by a newer one, or failed. */
export const uploadEventData = z
  .object({
    uploadId: z.string().meta({ examples: ['ca-0123456789abcdef0123'] }),
    state,
    source: z.string().meta({ description: 'The blob it came from.', examples: ['uploads/ca/participants.csv'] }),
    status: z.enum(['complete', 'superseded', 'failed']),
    activated: z.boolean().meta({ description: 'It is now the state\'s active upload, the one matches are found against.' }),
    rowsTotal: count.nullable(),
    rowsCommitted: count.nullable(),
    rowsRejected: count.nullable(),
    errorCode: z.string().optional().meta({ description: 'Why the whole file was refused (failed uploads).' }),
    errorLine: z.number().int().min(1).optional(),
    supersededBy: z.string().optional().meta({ description: 'The newer upload already active (superseded uploads).' }),
  });
export type UploadEventData = z.output<typeof uploadEventData>;

/** A match run's result for one of its states: counts only; the records are read through the state-scoped API. */
export const matchesUpdatedData = z.object({
  state,
  runId: z.string().meta({ description: 'The match run: the id of the completion event it answered.' }),
  uploadId: z.string().meta({ description: 'The upload whose activation the run answered.' }),
  uploadState: z.string(),
  new: count.meta({ description: 'Records involving `state` the run opened.' }),
  stillOpen: count,
  closed: count,
});
export type MatchesUpdatedData = z.output<typeof matchesUpdatedData>;

/**
 * A real-time query's announcement to a state it opened records with (the same type as a run's, so one notifier reads
 * both): ids and counts only, never a hash or a participant's id.
 */
export const queryMatchesUpdatedData = z.object({
  state: state.meta({ description: 'The state this event is for (its partition key): the other state of the records.' }),
  initiator: z.literal('query'),
  queryId: z.string().meta({ description: 'The query: the id of the request that asked it (its audit record\'s requestId).' }),
  queryState: z.string().meta({ description: 'The state that asked.' }),
  new: count.meta({ description: 'Records with `state` the query created (or opened again).' }),
  matchIds: z.array(z.string()),
});
export type QueryMatchesUpdatedData = z.output<typeof queryMatchesUpdatedData>;

/** One side of a match record changed (or an operator reopened it): ids and field names only. */
export const dispositionUpdatedData = z.object({
  state: state.meta({ description: 'The state this event is for (its partition key): the record\'s other state, or each state for an operator\'s change.' }),
  matchId: z.string(),
  changedBy: z.string().nullable().meta({ description: 'The state whose side changed; null for an operator\'s reopening.' }),
  version: z.number().int().min(0).meta({ description: 'The record\'s version after the change (its ETag).' }),
  fields: z.array(z.string()).meta({ description: 'The disposition fields whose value changed (none for a reopening).' }),
  status: z.enum(['open', 'closed']),
});
export type DispositionUpdatedData = z.output<typeof dispositionUpdatedData>;

/** Every event type the app publishes, with its data's schema and what it announces. */
export const EVENT_TYPES = {
  [UPLOAD_COMPLETED]: { data: uploadEventData, summary: 'An upload finished: activated, or superseded by a newer upload of its state.' },
  [UPLOAD_FAILED]: { data: uploadEventData, summary: 'An upload failed: no row of it became active.' },
  [MATCHES_UPDATED]: {
    data: z.union([matchesUpdatedData, queryMatchesUpdatedData]),
    summary: 'A match run (counts of new, still open and closed records) or a real-time query (the records it opened) changed a state\'s match records.',
  },
  [MATCH_DISPOSITION_UPDATED]: { data: dispositionUpdatedData, summary: 'The other state (or an operator) changed a match record\'s disposition.' },
} as const satisfies Record<string, { data: z.ZodType; summary: string }>;
export type EventType = keyof typeof EVENT_TYPES;

export const isEventType = (type: string): type is EventType => Object.hasOwn(EVENT_TYPES, type);

/** Where an event type's data schema is served, on the app's public host (`WEBSITE_HOSTNAME`). */
export function eventSchemaUrl(host: string, type: EventType): string {
  const scheme = /^(localhost|127\.0\.0\.1)(:\d+)?$/.test(host) ? 'http' : 'https';
  return `${scheme}://${host}/api/event-schemas/${type}`;
}

/** The JSON Schema (2020-12) of an event type's data, with the URL it is served at as its `$id`. */
export function eventDataJsonSchema(type: EventType, id: string): Record<string, unknown> {
  return { $id: id, title: `${type} data`, description: EVENT_TYPES[type].summary, ...z.toJSONSchema(EVENT_TYPES[type].data, { target: 'draft-2020-12', io: 'output' }) };
}
