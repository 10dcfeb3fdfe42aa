import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import type { MatchView, QueryMatch } from '../engine/index.js';
import { auditRead, auditRecords } from './auditApi.js';
import type { AuditRule } from './auditSeam.js';
import { dashboard } from './dashboard.js';
import {
  auditCursorQuery, blobQuery, intQuery, matchCursorQuery, matchIdParam, matchStatusQuery, rowErrorCursorQuery, stateParam, timeQuery, uploadIdParam,
} from './httpDecoders.js';
import { matchPairs, matchRecord, stateMatches } from './matchApi.js';
import {
  dispositionPatch, matchPage, matchPairList, matchQueryAnswer, matchQueryRequest, matchView, reopened, reopenRequest,
} from './matchBodies.js';
import { matchQuery } from './matchQueryApi.js';
import { reopen, updateOwnDisposition } from './matchResolutionApi.js';
import { asyncApi, asyncApiBody, eventSchema, eventTypeParam, jsonSchemaBody } from './eventContracts.js';
import { openApi } from './openApi.js';
import { auditPage, dashboardConfig, openApiBody, orchestrationActionAccepted, orchestrationTimelineBody } from './operationsBodies.js';
import { consoleActionParam, orchestration, orchestrationAction } from './orchestrationConsole.js';
import { uploadFile } from './uploadFile.js';
import { createUploadSessionApi, uploadSessionDeps } from './uploadSessions.js';
import { stateSummaries, stateUploads, uploadErrors, uploadStatus } from './uploadStatus.js';
import { partReceived, rowErrorPage, stateSummaryList, stateUploadList, uploadAccepted, uploadSession, uploadSessionList, uploadSessionRequest } from './uploadBodies.js';
import { uploadStatusBody } from '../status/statusBody.js';

/**
 * Who may call an HTTP route. The edge (accessGuard.ts) enforces it before the handler runs; a policy that concerns
 * a state reads the route's decoded `state` parameter, one that concerns an upload or a match its decoded id.
 */
export type AccessPolicy =
  /** No token: the route returns nothing about any upload or state. */
  | { readonly kind: 'public'; readonly why: string }
  /** Any caller with a bulkflow role; the handler answers with the caller's own states only. */
  | { readonly kind: 'ownStates' }
  /** The `{state}` in the path: its own role or an operator reads it, anyone else gets 403. */
  | { readonly kind: 'stateRead' }
  /** The `{state}` in the path: only its own role uploads (operators get 403 too). */
  | { readonly kind: 'stateUpload' }
  /**
   * The upload named by `{uploadId}` (or `?blob=`): readable by its state's role and operators. Anyone else gets
   * the same 404 as for an upload that does not exist, so ids of other states reveal nothing.
   */
  | { readonly kind: 'uploadRead' }
  /**
   * The `{state}` in the path: only its own role reads its match records (another state's participants); an
   * operator, who reads counts per state pair instead, gets 403 like any other state.
   */
  | { readonly kind: 'stateMatchRecords' }
  /**
   * The match record named by `{matchId}`: readable by the roles of its two states only. Anyone else, operators
   * included, gets the same 404 as for a record that does not exist.
   */
  | { readonly kind: 'matchRead' }
  /**
   * The `{state}` side of the match record named by `{matchId}`: the record's two states' roles find it (anyone else,
   * operators included, gets the same 404 as for reads), and only the role of `{state}` changes that side (403).
   */
  | { readonly kind: 'matchSideWrite' }
  /** The `{state}` in the path: only its own role queries matches for it (operators get 403 too). */
  | { readonly kind: 'stateMatchQuery' }
  /**
   * Operators only (Operator.Read or Operator.Admin; `admin`: Operator.Admin only), anyone else 403. An
   * `{uploadId}` in the path must exist (404 otherwise).
   */
  | { readonly kind: 'operator'; readonly admin: boolean };

/** Policies that concern the `{state}` of the path: their routes must decode a `state` parameter. */
export const STATE_POLICIES: ReadonlySet<AccessPolicy['kind']> = new Set(['stateRead', 'stateUpload', 'stateMatchRecords', 'stateMatchQuery']);

/** Decoders of a route's path parameters or query values, by name (httpDecoders.ts). */
export type Decoders = Readonly<Record<string, z.ZodType>>;

/**
 * One answer of a route, for its OpenAPI document (openApi.ts) and the tests that check every answer against it:
 * a success with its JSON body's schema (the one the handler's `json` takes) or its media types, or, as a plain
 * string, a refusal with a problem detail and when it is given. The edge's own refusals (401, 403, 404 of a lookup
 * policy, 429, 400 of a decoder, 400, 413 and 415 of a JSON body, 503 of an audit) are added from the row's policy,
 * decoders and request body.
 */
export type Answer =
  | string
  | {
    readonly description: string;
    /** The JSON body's schema. */
    readonly body?: z.ZodType;
    /** Bodies of other media types (their bytes are not described further). */
    readonly media?: readonly string[];
    /** Response headers always sent with this answer, and what they carry. */
    readonly headers?: Readonly<Record<string, string>>;
    /** Only this method of the row gives it. */
    readonly method?: HttpMethod;
  };

/** What a request carries in its body: per media type, a JSON schema or raw bytes. */
export interface RequestBody {
  readonly description: string;
  readonly content: Readonly<Record<string, z.ZodType | 'bytes'>>;
  /** Request headers the route reads, and what they carry. */
  readonly headers?: Readonly<Record<string, { readonly description: string; readonly required: boolean; readonly example?: string }>>;
  /**
   * The largest JSON body. The edge reads a JSON body (415 for a media type the row does not list, 413 above this,
   * 400 when it is not JSON), decodes it with the row's schema (400 naming each position and rule, never a value)
   * and calls the handler with the decoded value as `body`: the handler does not check it again.
   */
  readonly maxBytes?: number;
}

/** The schemas of a request body's JSON media types. */
type JsonSchemaOf<R> = R extends { readonly content: infer C } ? Exclude<C[keyof C], 'bytes'> : never;
/** What a row's handler gets as `body`: its JSON request body decoded, or undefined when it takes none. */
export type DecodedBody<R> = [JsonSchemaOf<R>] extends [never] ? undefined : z.output<JsonSchemaOf<R>>;

/** What a handler is called with: the request, decoded, and the caller the edge authorised. */
export interface HttpCall<P, Q, D extends boolean, Public extends boolean, B = undefined> {
  readonly request: HttpRequest;
  /** The caller, authenticated and allowed by the route's policy; none on a public route. */
  readonly caller: Public extends true ? undefined : Principal;
  /** The path parameters, decoded by the route's `params` (a state upper case, an upload as an UploadRef, …). */
  readonly params: P;
  /** The query values, decoded by the route's `query` (defaults applied; an empty value counts as absent). */
  readonly query: Q;
  /** The durable client, bound when the route says `durableClient: true`. */
  readonly client: D extends true ? DurableClient : undefined;
  readonly context: InvocationContext;
  /** The JSON request body, decoded by the row's `requestBody` schema. */
  readonly body: B;
}

export interface HttpRoute<
  P extends Decoders = Decoders, Q extends Decoders = Decoders, D extends boolean = boolean, K extends AccessPolicy = AccessPolicy,
  R extends RequestBody | undefined = RequestBody | undefined,
> {
  /** The Functions route template under /api. */
  readonly route: string;
  readonly methods: readonly HttpMethod[];
  readonly policy: K;
  /** Registers the function with the durable client input binding (app.ts: `df.app.client.http`). */
  readonly durableClient: D;
  readonly params: P;
  readonly query: Q;
  /** Its answers by status: at least its success. The OpenAPI document is built from these (openApi.ts). */
  readonly answers: Readonly<Record<number, Answer>>;
  readonly requestBody?: R;
  /**
   * Declared on every route that returns participant-level data or changes anything: each granted request writes
   * one audit record (auditSeam.ts), and its answer is withheld when the record cannot be written.
   */
  readonly audit?: AuditRule;
  /**
   * The rate-limit budget the route spends: the API's (API_RATE_LIMIT_PER_MINUTE) unless it says `uploadParts`
   * (UPLOAD_PARTS_PER_MINUTE), so the parts of a large upload never run the API budget out.
   */
  readonly budget?: 'uploadParts';
  /** Builds the handler from the app's clients; it runs only for a request the edge decoded and authorised. */
  readonly handler: (clients: AppClients) => (call: HttpCall<z.output<z.ZodObject<P>>, z.output<z.ZodObject<Q>>, D, K extends { kind: 'public' } ? true : false, DecodedBody<R>>) => Promise<HttpResponseInit>;
}

const CONTENT_DIGEST_OPTIONAL = { description: 'The body\'s SHA-256 (RFC 9530), checked before it is kept.', required: false, example: 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:' };
const SESSION_NOT_FOUND = 'No such session among the state\'s: committed, aborted or expired.';
const ETAG = 'The record\'s version, for If-Match.';

/** Audits the id of what a request created, as its answer's body names it under `key`. */
const auditsCreated = (key: string): AuditRule => ({ returned: (body) => ({ objectIds: [String((body as Record<string, unknown>)[key])] }) });

/** Audits the id a path parameter names: what the request reads or changes. */
const paramId = (name: string) => (request: HttpRequest): string[] => [request.params[name] ?? ''];

/**
 * The body and answers of a change to a match record (matchResolutionApi.ts): a JSON body guarded by the ETag of the
 * record as the caller read it (If-Match), answered with the record's new ETag or the guard's refusals beside its own.
 */
function matchChange<const B extends Omit<RequestBody, 'headers' | 'maxBytes'>>(change: {
  ifMatch: 'required' | 'optional';
  body: B;
  changed: { description: string; body: z.ZodType };
  refused: { 409: string };
}) {
  const required = change.ifMatch === 'required';
  const answers: Record<number, Answer> = {
    200: { ...change.changed, headers: { etag: ETAG } },
    ...change.refused,
    412: 'The record changed since it was read (the current ETag is sent), or If-Match is not an ETag.',
  };
  if (required) answers[428] = 'No If-Match.';
  return {
    requestBody: {
      ...change.body,
      headers: { 'if-match': { description: required ? 'The ETag of the record as read.' : 'Optional: the ETag of the record as read.', required, example: '"3"' } },
      // A change is a few fields: room for the longest free text many times over.
      maxBytes: 16 * 1024,
    },
    answers,
  };
}

/** What every row of the resumable upload shares: a session of the path's state, for that state's role only. */
const SESSIONS = 'states/{state}/upload-sessions';
const OWN_STATE_SESSION = { policy: { kind: 'stateUpload' }, durableClient: false, query: {} } as const;

/** Any row, as the edge and app.ts handle them all alike (each row's own types were checked where it is written). */
export type AnyHttpRoute = Omit<HttpRoute, 'handler'> & { readonly handler: (clients: AppClients) => (call: never) => Promise<HttpResponseInit> };

/** A row of the table, typed so that its handler is checked against its decoders, policy and bindings. */
function row<const P extends Decoders, const Q extends Decoders, const D extends boolean, const K extends AccessPolicy, const R extends RequestBody | undefined = undefined>(
  route: HttpRoute<P, Q, D, K, R>,
): HttpRoute<P, Q, D, K, R> {
  return route;
}

/** The resumable upload's handlers, built once per process from the app's clients (every row shares them). */
let sessionHandlers: ReturnType<typeof createUploadSessionApi> | undefined;
const sessionApi = (clients: AppClients) => (sessionHandlers ??= createUploadSessionApi(uploadSessionDeps(clients)));

const matchesReturned = (body: unknown) => {
  const matches = (body as { matches: MatchView[] }).matches;
  return { objectIds: matches.map((m) => m.matchId), records: matches.length, states: matches.map((m) => m.otherState) };
};
const matchReturned = (body: unknown) => {
  const match = body as MatchView;
  return { records: 1, states: [match.state, match.otherState] };
};

const queryReturned = (body: unknown) => {
  const { results } = (body as { data: { results: Array<{ matches: QueryMatch[] }> } }).data;
  const matches = results.flatMap((result) => result.matches);
  return { objectIds: matches.map((m) => m.matchId), records: matches.length, states: matches.map((m) => m.otherState), personsQueried: results.length };
};

/**
 * The HTTP API: one row per function (its name is the key), with its route, access policy, decoders, bindings and
 * handler. src/app.ts registers every row as it is; adding a route is adding a row here.
 */
export const httpRoutes = {
  uploadFile: row({
    route: 'states/{state}/uploads/{filename}', methods: ['PUT'], policy: { kind: 'stateUpload' }, durableClient: false,
    params: { state: stateParam, filename: z.string() }, query: {}, handler: uploadFile,
    requestBody: { description: 'The CSV file, up to the part size (UPLOAD_PART_BYTES); larger files go in parts.', content: { 'text/csv': 'bytes' }, headers: { 'content-digest': CONTENT_DIGEST_OPTIONAL } },
    answers: {
      202: { description: 'Stored; ingestion starts from its BlobCreated event.', body: uploadAccepted, headers: { location: 'The upload\'s status URL.' } },
      400: 'An empty file, a file name that is not a safe `.csv` name, a malformed Content-Length or Content-Digest, a body whose bytes do not match its Content-Digest, or a cut body: nothing is kept.',
      409: 'An upload of this file name is in progress.',
      411: 'No Content-Length (chunked bodies are not accepted).',
      413: 'Larger than one request takes: the detail names the resumable upload.',
    },
    audit: auditsCreated('uploadId'),
  }),
  // The resumable upload (uploadSessions.ts): sessions of the caller's own state; a session id of another state is
  // not found (404), like one that never existed. Parts spend their own rate budget (UPLOAD_PARTS_PER_MINUTE).
  createUploadSession: row({
    route: SESSIONS, methods: ['POST'], ...OWN_STATE_SESSION, params: { state: stateParam }, handler: (clients) => sessionApi(clients).create,
    requestBody: { description: 'The file to upload in parts.', content: { 'application/json': uploadSessionRequest }, maxBytes: 4 * 1024 },
    answers: {
      201: { description: 'The session: where to send each part.', body: uploadSession, headers: { location: 'The session\'s URL.' } },
      409: 'An upload of this file name is in progress: `session` is its URL.',
      413: 'Larger than the largest file accepted (UPLOAD_MAX_BYTES).',
    },
    audit: auditsCreated('id'),
  }),
  uploadSessions: row({
    route: SESSIONS, methods: ['GET'], ...OWN_STATE_SESSION, params: { state: stateParam }, handler: (clients) => sessionApi(clients).list,
    answers: { 200: { description: 'The state\'s uploads in progress, and the limits to plan with.', body: uploadSessionList } },
  }),
  uploadSession: row({
    route: `${SESSIONS}/{sessionId}`, methods: ['GET', 'DELETE'], ...OWN_STATE_SESSION,
    params: { state: stateParam, sessionId: z.string() }, handler: (clients) => sessionApi(clients).session,
    answers: {
      200: { description: 'The session: the parts held and those still missing.', body: uploadSession, method: 'GET' },
      204: { description: 'Aborted: its parts are deleted.', method: 'DELETE' },
      404: SESSION_NOT_FOUND,
      409: 'Being committed: it can no longer be aborted.',
    },
    audit: { requested: (request) => (request.method === 'DELETE' ? paramId('sessionId')(request) : []) },
  }),
  uploadSessionPart: row({
    route: `${SESSIONS}/{sessionId}/parts/{partNumber}`, methods: ['PUT'], ...OWN_STATE_SESSION, budget: 'uploadParts',
    params: { state: stateParam, sessionId: z.string(), partNumber: z.string() }, handler: (clients) => sessionApi(clients).part,
    requestBody: {
      description: 'The part\'s bytes: `partBytes` long, but the last (`lastPartBytes`). Sent again, the last good one counts.',
      content: { 'application/octet-stream': 'bytes' },
      headers: { 'content-digest': { ...CONTENT_DIGEST_OPTIONAL, description: 'The part\'s SHA-256 (RFC 9530).', required: true } },
    },
    answers: {
      200: { description: 'Held.', body: partReceived },
      400: 'A part number out of range, a length that is not the part\'s, no or a malformed Content-Digest, bytes that do not match it, or a cut body: the part is not kept.',
      404: SESSION_NOT_FOUND,
      409: 'The session is being committed, or ended while the part arrived.',
      411: 'No Content-Length.',
    },
    audit: { requested: paramId('sessionId') },
  }),
  commitUploadSession: row({
    route: `${SESSIONS}/{sessionId}/commit`, methods: ['POST'], ...OWN_STATE_SESSION, durableClient: true,
    params: { state: stateParam, sessionId: z.string() }, handler: (clients) => sessionApi(clients).commit,
    audit: { requested: paramId('sessionId') },
    answers: {
      200: { description: 'Committed (asked again after the commit ran): the session, with `uploadId` and `statusUrl`.', body: uploadSession, headers: { location: 'The session\'s URL.' } },
      202: {
        description: 'Every part is there: the commit runs (whole-file SHA-256, then the copy). Read the session until it is `committed` (ingestion then starts from the file\'s BlobCreated event) or `failed`.',
        body: uploadSession, headers: { location: 'The session\'s URL.', 'retry-after': 'Seconds until reading the session is worth it.' },
      },
      404: SESSION_NOT_FOUND,
      409: 'Parts are missing (`missingParts` lists them), or the commit refused the file (its SHA-256 did not match: nothing is kept).',
    },
  }),
  stateUploads: row({
    route: 'states/{state}/uploads', methods: ['GET'], policy: { kind: 'stateRead' }, durableClient: true,
    params: { state: stateParam }, query: { limit: intQuery('limit', 1, 100, 20) }, handler: stateUploads,
    answers: { 200: { description: 'The state\'s uploads, newest first, the active one marked.', body: stateUploadList } },
  }),
  stateSummaries: row({
    route: 'states', methods: ['GET'], policy: { kind: 'ownStates' }, durableClient: true,
    params: {}, query: { uploads: intQuery('uploads', 0, 20, 0) }, handler: stateSummaries,
    answers: { 200: { description: 'The states the caller may read, each with its active upload (and its newest uploads with `uploads=N`).', body: stateSummaryList } },
  }),
  uploadStatus: row({
    route: 'uploads/{uploadId?}', methods: ['GET'], policy: { kind: 'uploadRead' }, durableClient: true,
    params: { uploadId: uploadIdParam.optional() }, query: { blob: blobQuery }, handler: uploadStatus,
    answers: { 200: { description: 'The upload\'s status.', body: uploadStatusBody }, 400: 'Neither an upload id nor `blob`.' },
  }),
  uploadErrors: row({
    route: 'uploads/{uploadId}/errors', methods: ['GET'], policy: { kind: 'uploadRead' }, durableClient: false,
    params: { uploadId: uploadIdParam }, query: { limit: intQuery('limit', 1, 1000, 100), after: rowErrorCursorQuery }, handler: uploadErrors,
    answers: { 200: { description: 'A page of the upload\'s rejected rows, in line order.', body: rowErrorPage } },
  }),
  stateMatches: row({
    route: 'states/{state}/matches', methods: ['GET'], policy: { kind: 'stateMatchRecords' }, durableClient: false,
    params: { state: stateParam },
    query: { status: matchStatusQuery, limit: intQuery('limit', 1, 1000, 100), after: matchCursorQuery },
    handler: stateMatches, audit: { returned: matchesReturned },
    answers: { 200: { description: 'A page of the state\'s match records, in match id order.', body: matchPage } },
  }),
  matchRecord: row({
    route: 'matches/{matchId}', methods: ['GET'], policy: { kind: 'matchRead' }, durableClient: false,
    params: { matchId: matchIdParam }, query: {}, handler: matchRecord,
    audit: { requested: paramId('matchId'), returned: matchReturned },
    answers: { 200: { description: 'The record as the caller\'s state sees it.', body: matchView, headers: { etag: ETAG } } },
  }),
  // A state records what it did about a match, on its own side (If-Match; the other state is notified).
  matchDisposition: row({
    route: 'matches/{matchId}/dispositions/{state}', methods: ['PATCH'], policy: { kind: 'matchSideWrite' }, durableClient: false,
    params: { matchId: matchIdParam, state: stateParam }, query: {}, handler: updateOwnDisposition,
    audit: { requested: paramId('matchId'), returned: matchReturned },
    ...matchChange({
      ifMatch: 'required',
      body: {
        description: 'A JSON merge patch (RFC 7396) of the side\'s disposition: null clears a field.',
        content: { 'application/merge-patch+json': dispositionPatch, 'application/json': dispositionPatch },
      },
      changed: { description: 'Changed (or already so): the record and its new ETag.', body: matchView },
      refused: { 409: 'The record is closed: an operator can reopen it.' },
    }),
  }),
  // An operator reopens a record its states closed: the one change a closed record takes, audited.
  matchReopen: row({
    route: 'matches/{matchId}/reopen', methods: ['POST'], policy: { kind: 'operator', admin: true }, durableClient: false,
    params: { matchId: matchIdParam }, query: {}, handler: reopen,
    audit: { requested: paramId('matchId') },
    ...matchChange({
      ifMatch: 'optional',
      body: { description: 'Why it is reopened.', content: { 'application/json': reopenRequest } },
      changed: { description: 'Open again: its id, status and new ETag (never its participants).', body: reopened },
      refused: { 409: 'Not closed by its states (open, or closed by an upload).' },
    }),
  }),
  // A caseworker checks applicants against the other states' active uploads; audited with the hits' ids and count.
  matchQuery: row({
    route: 'states/{state}/match-queries', methods: ['POST'], policy: { kind: 'stateMatchQuery' }, durableClient: false,
    params: { state: stateParam }, query: {}, handler: matchQuery, audit: { returned: queryReturned },
    // 50 persons of ~200 bytes each, with room for formatting.
    requestBody: { description: 'The applicants to check: 1 to 50 persons.', content: { 'application/json': matchQueryRequest }, maxBytes: 64 * 1024 },
    answers: {
      200: { description: 'Each person\'s matches in the other states\' active uploads: one match record per hit, created or reused.', body: matchQueryAnswer },
    },
  }),
  // Counts per state pair, no participant fields: an operator every pair, a state role the pairs of its states.
  matchPairs: row({
    route: 'matches', methods: ['GET'], policy: { kind: 'ownStates' }, durableClient: false, params: {}, query: {}, handler: matchPairs,
    answers: { 200: { description: 'Counts per state pair: every pair for an operator, the pairs of its states for a state role.', body: matchPairList } },
  }),
  // Who read or changed which state's data: operators every state, a state role its own states (the handler filters).
  auditRecords: row({
    route: 'audit', methods: ['GET'], policy: { kind: 'ownStates' }, durableClient: false, params: {},
    query: { state: stateParam.optional(), from: timeQuery('from'), to: timeQuery('to'), after: auditCursorQuery, limit: intQuery('limit', 1, 500, 100) },
    handler: auditRecords, audit: { returned: auditRead },
    answers: { 200: { description: 'A page of audit records, newest first.', body: auditPage }, 403: 'A state role asked for another state\'s records.' },
  }),
  // The operator console: an upload's orchestration as a timeline, and the actions an Operator.Admin may take on it.
  orchestration: row({
    route: 'uploads/{uploadId}/orchestration', methods: ['GET'], policy: { kind: 'operator', admin: false }, durableClient: true,
    params: { uploadId: uploadIdParam }, query: {}, handler: orchestration,
    answers: {
      200: { description: 'The upload\'s orchestration as a timeline of steps, and the actions it takes now.', body: orchestrationTimelineBody },
      404: 'No orchestration history (never started, or purged).',
    },
  }),
  orchestrationAction: row({
    route: 'uploads/{uploadId}/orchestration/{action}', methods: ['POST'], policy: { kind: 'operator', admin: true }, durableClient: true,
    params: { uploadId: uploadIdParam, action: consoleActionParam }, query: {}, handler: orchestrationAction,
    audit: { requested: paramId('uploadId') },
    answers: {
      202: { description: 'Asked of the orchestration.', body: orchestrationActionAccepted },
      404: 'No orchestration to act on.',
      409: 'The action does not apply to the orchestration\'s runtime status, or its history cannot be rewound.',
      501: 'The storage provider of this host cannot rewind.',
    },
  }),
  dashboard: row({
    route: 'dashboard/{*asset}', methods: ['GET'],
    policy: { kind: 'public', why: 'the page, its assets and its sign-in settings hold no data; every figure comes from the API' },
    durableClient: false, params: { asset: z.string().optional() }, query: {}, handler: dashboard,
    answers: {
      200: { description: 'The page, the API reference (`api.html`, rendering this document), a script or style, or `config.json` (its sign-in settings).', body: dashboardConfig, media: ['text/html', 'text/css', 'text/javascript'] },
      308: { description: 'The page is addressed as a directory: to `/api/dashboard/`.', headers: { location: 'The same path, with a slash.' } },
      404: 'The dashboard has no such file.',
    },
  }),
  // The OpenAPI document of this table (openApi.ts).
  openApi: row({
    route: 'openapi.json', methods: ['GET'], policy: { kind: 'public', why: 'the API\'s contract describes routes and holds no data' },
    durableClient: false, params: {}, query: {}, handler: openApi,
    answers: { 200: { description: 'This document.', body: openApiBody } },
  }),
  // The events' contract (eventContracts.ts): each type's data schema, at the URL its events name as `dataschema`.
  eventSchema: row({
    route: 'event-schemas/{type}', methods: ['GET'], policy: { kind: 'public', why: 'a schema describes events and holds no data' },
    durableClient: false, params: { type: eventTypeParam }, query: {}, handler: eventSchema,
    answers: { 200: { description: 'The JSON Schema (2020-12) of the type\'s `data`.', body: jsonSchemaBody } },
  }),
  asyncApi: row({
    route: 'asyncapi.json', methods: ['GET'], policy: { kind: 'public', why: 'the events\' contract describes the hub and holds no data' },
    durableClient: false, params: {}, query: {}, handler: asyncApi,
    answers: { 200: { description: 'The AsyncAPI 3.0 document of the `upload-events` hub.', body: asyncApiBody } },
  }),
};

export type HttpFunctionName = keyof typeof httpRoutes;

/**
 * Registration options of a row. Every route is `anonymous` to the Functions host: a function key is one shared
 * secret that reads every state, so the app checks each caller's own token instead (accessGuard.ts).
 */
export function httpOptions(route: AnyHttpRoute): { route: string; methods: HttpMethod[]; authLevel: 'anonymous' } {
  return { route: route.route, methods: [...route.methods], authLevel: 'anonymous' };
}
