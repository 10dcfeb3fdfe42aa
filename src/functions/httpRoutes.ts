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
import { matchQuery } from './matchQueryApi.js';
import { reopen, updateOwnDisposition } from './matchResolutionApi.js';
import { openApi } from './openApi.js';
import { consoleActionParam, orchestration, orchestrationAction } from './orchestrationConsole.js';
import { uploadFile } from './uploadFile.js';
import { createUploadSessionApi, uploadSessionDeps } from './uploadSessions.js';
import { stateSummaries, stateUploads, uploadErrors, uploadStatus } from './uploadStatus.js';

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

/** What a handler is called with: the request, decoded, and the caller the edge authorised. */
export interface HttpCall<P, Q, D extends boolean, Public extends boolean> {
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
}

export interface HttpRoute<P extends Decoders = Decoders, Q extends Decoders = Decoders, D extends boolean = boolean, K extends AccessPolicy = AccessPolicy> {
  /** The Functions route template under /api. */
  readonly route: string;
  readonly methods: readonly HttpMethod[];
  readonly policy: K;
  /** Registers the function with the durable client input binding (app.ts: `df.app.client.http`). */
  readonly durableClient: D;
  readonly params: P;
  readonly query: Q;
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
  readonly handler: (clients: AppClients) => (call: HttpCall<z.output<z.ZodObject<P>>, z.output<z.ZodObject<Q>>, D, K extends { kind: 'public' } ? true : false>) => Promise<HttpResponseInit>;
}

/** Any row, as the edge and app.ts handle them all alike (each row's own types were checked where it is written). */
export type AnyHttpRoute = Omit<HttpRoute, 'handler'> & { readonly handler: (clients: AppClients) => (call: never) => Promise<HttpResponseInit> };

/** A row of the table, typed so that its handler is checked against its decoders, policy and bindings. */
function row<const P extends Decoders, const Q extends Decoders, const D extends boolean, const K extends AccessPolicy>(route: HttpRoute<P, Q, D, K>): HttpRoute<P, Q, D, K> {
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
    audit: { returned: (body) => ({ objectIds: [(body as { uploadId: string }).uploadId] }) },
  }),
  // The resumable upload (uploadSessions.ts): sessions of the caller's own state; a session id of another state is
  // not found (404), like one that never existed. Parts spend their own rate budget (UPLOAD_PARTS_PER_MINUTE).
  createUploadSession: row({
    route: 'states/{state}/upload-sessions', methods: ['POST'], policy: { kind: 'stateUpload' }, durableClient: false,
    params: { state: stateParam }, query: {}, handler: (clients) => sessionApi(clients).create,
    audit: { returned: (body) => ({ objectIds: [(body as { id: string }).id] }) },
  }),
  uploadSessions: row({
    route: 'states/{state}/upload-sessions', methods: ['GET'], policy: { kind: 'stateUpload' }, durableClient: false,
    params: { state: stateParam }, query: {}, handler: (clients) => sessionApi(clients).list,
  }),
  uploadSession: row({
    route: 'states/{state}/upload-sessions/{sessionId}', methods: ['GET', 'DELETE'], policy: { kind: 'stateUpload' }, durableClient: false,
    params: { state: stateParam, sessionId: z.string() }, query: {}, handler: (clients) => sessionApi(clients).session,
    audit: { requested: (request) => (request.method === 'DELETE' ? [request.params.sessionId ?? ''] : []) },
  }),
  uploadSessionPart: row({
    route: 'states/{state}/upload-sessions/{sessionId}/parts/{partNumber}', methods: ['PUT'], policy: { kind: 'stateUpload' }, durableClient: false,
    params: { state: stateParam, sessionId: z.string(), partNumber: z.string() }, query: {}, budget: 'uploadParts', handler: (clients) => sessionApi(clients).part,
    audit: { requested: (request) => [request.params.sessionId ?? ''] },
  }),
  commitUploadSession: row({
    route: 'states/{state}/upload-sessions/{sessionId}/commit', methods: ['POST'], policy: { kind: 'stateUpload' }, durableClient: true,
    params: { state: stateParam, sessionId: z.string() }, query: {}, handler: (clients) => sessionApi(clients).commit,
    audit: { requested: (request) => [request.params.sessionId ?? ''] },
  }),
  stateUploads: row({
    route: 'states/{state}/uploads', methods: ['GET'], policy: { kind: 'stateRead' }, durableClient: true,
    params: { state: stateParam }, query: { limit: intQuery('limit', 1, 100, 20) }, handler: stateUploads,
  }),
  stateSummaries: row({
    route: 'states', methods: ['GET'], policy: { kind: 'ownStates' }, durableClient: true,
    params: {}, query: { uploads: intQuery('uploads', 0, 20, 0) }, handler: stateSummaries,
  }),
  uploadStatus: row({
    route: 'uploads/{uploadId?}', methods: ['GET'], policy: { kind: 'uploadRead' }, durableClient: true,
    params: { uploadId: uploadIdParam.optional() }, query: { blob: blobQuery }, handler: uploadStatus,
  }),
  uploadErrors: row({
    route: 'uploads/{uploadId}/errors', methods: ['GET'], policy: { kind: 'uploadRead' }, durableClient: false,
    params: { uploadId: uploadIdParam }, query: { limit: intQuery('limit', 1, 1000, 100), after: rowErrorCursorQuery }, handler: uploadErrors,
  }),
  stateMatches: row({
    route: 'states/{state}/matches', methods: ['GET'], policy: { kind: 'stateMatchRecords' }, durableClient: false,
    params: { state: stateParam },
    query: { status: matchStatusQuery, limit: intQuery('limit', 1, 1000, 100), after: matchCursorQuery },
    handler: stateMatches, audit: { returned: matchesReturned },
  }),
  matchRecord: row({
    route: 'matches/{matchId}', methods: ['GET'], policy: { kind: 'matchRead' }, durableClient: false,
    params: { matchId: matchIdParam }, query: {}, handler: matchRecord,
    audit: { requested: (request) => [request.params.matchId ?? ''], returned: matchReturned },
  }),
  // A state records what it did about a match, on its own side (If-Match; the other state is notified).
  matchDisposition: row({
    route: 'matches/{matchId}/dispositions/{state}', methods: ['PATCH'], policy: { kind: 'matchSideWrite' }, durableClient: false,
    params: { matchId: matchIdParam, state: stateParam }, query: {}, handler: updateOwnDisposition,
    audit: { requested: (request) => [request.params.matchId ?? ''], returned: matchReturned },
  }),
  // An operator reopens a record its states closed: the one change a closed record takes, audited.
  matchReopen: row({
    route: 'matches/{matchId}/reopen', methods: ['POST'], policy: { kind: 'operator', admin: true }, durableClient: false,
    params: { matchId: matchIdParam }, query: {}, handler: reopen,
    audit: { requested: (request) => [request.params.matchId ?? ''] },
  }),
  // A caseworker checks applicants against the other states' active uploads; audited with the hits' ids and count.
  matchQuery: row({
    route: 'states/{state}/match-queries', methods: ['POST'], policy: { kind: 'stateMatchQuery' }, durableClient: false,
    params: { state: stateParam }, query: {}, handler: matchQuery, audit: { returned: queryReturned },
  }),
  // Counts per state pair, no participant fields: an operator every pair, a state role the pairs of its states.
  matchPairs: row({
    route: 'matches', methods: ['GET'], policy: { kind: 'ownStates' }, durableClient: false, params: {}, query: {}, handler: matchPairs,
  }),
  // Who read or changed which state's data: operators every state, a state role its own states (the handler filters).
  auditRecords: row({
    route: 'audit', methods: ['GET'], policy: { kind: 'ownStates' }, durableClient: false, params: {},
    query: { state: stateParam.optional(), from: timeQuery('from'), to: timeQuery('to'), after: auditCursorQuery, limit: intQuery('limit', 1, 500, 100) },
    handler: auditRecords, audit: { returned: auditRead },
  }),
  // The operator console: an upload's orchestration as a timeline, and the actions an Operator.Admin may take on it.
  orchestration: row({
    route: 'uploads/{uploadId}/orchestration', methods: ['GET'], policy: { kind: 'operator', admin: false }, durableClient: true,
    params: { uploadId: uploadIdParam }, query: {}, handler: orchestration,
  }),
  orchestrationAction: row({
    route: 'uploads/{uploadId}/orchestration/{action}', methods: ['POST'], policy: { kind: 'operator', admin: true }, durableClient: true,
    params: { uploadId: uploadIdParam, action: consoleActionParam }, query: {}, handler: orchestrationAction,
    audit: { requested: (request) => [request.params.uploadId ?? ''] },
  }),
  dashboard: row({
    route: 'dashboard/{*asset}', methods: ['GET'],
    policy: { kind: 'public', why: 'the page, its assets and its sign-in settings hold no data; every figure comes from the API' },
    durableClient: false, params: { asset: z.string().optional() }, query: {}, handler: dashboard,
  }),
  // The OpenAPI document of this table (openApi.ts).
  openApi: row({
    route: 'openapi.json', methods: ['GET'], policy: { kind: 'public', why: 'the API\'s contract describes routes and holds no data' },
    durableClient: false, params: {}, query: {}, handler: openApi,
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
