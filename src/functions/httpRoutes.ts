import type { HttpMethod } from '@azure/functions';
import { functionNames } from '../functionNames.js';
import type { MatchView } from '../engine/matchReads.js';
import type { AuditRule } from './auditSeam.js';

/**
 * Who may call an HTTP route. Every HTTP function has exactly one entry in `httpRoutes` below; the guard
 * (accessGuard.ts) enforces it and test/functions/httpRoutes.test.ts fails if the app registers an HTTP
 * function without one.
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
   * Operators only (Operator.Read or Operator.Admin; `admin`: Operator.Admin only), anyone else 403. An
   * `{uploadId}` in the path must exist (404 otherwise).
   */
  | { readonly kind: 'operator'; readonly admin: boolean };

export interface HttpRoute {
  readonly route: string;
  readonly methods: readonly ('GET' | 'PUT' | 'POST')[];
  readonly policy: AccessPolicy;
  /**
   * Declared on every route that returns participant-level data or changes anything: each granted request writes
   * one audit record (auditSeam.ts), and its answer is withheld when the record cannot be written.
   */
  readonly audit?: AuditRule;
}

const matchesReturned = (body: unknown) => {
  const matches = (body as { matches: MatchView[] }).matches;
  return { objectIds: matches.map((m) => m.matchId), records: matches.length, states: matches.map((m) => m.otherState) };
};
const matchReturned = (body: unknown) => {
  const match = body as MatchView;
  return { records: 1, states: [match.state, match.otherState] };
};

/** The route → policy table: the one place that says who may call what. */
export const httpRoutes = {
  [functionNames.uploadFile]: {
    route: 'states/{state}/uploads/{filename}',
    methods: ['PUT'],
    policy: { kind: 'stateUpload' },
    audit: { returned: (body) => ({ objectIds: [(body as { uploadId: string }).uploadId] }) },
  },
  [functionNames.stateUploads]: { route: 'states/{state}/uploads', methods: ['GET'], policy: { kind: 'stateRead' } },
  [functionNames.stateSummaries]: { route: 'states', methods: ['GET'], policy: { kind: 'ownStates' } },
  [functionNames.uploadStatus]: { route: 'uploads/{uploadId?}', methods: ['GET'], policy: { kind: 'uploadRead' } },
  [functionNames.uploadErrors]: { route: 'uploads/{uploadId}/errors', methods: ['GET'], policy: { kind: 'uploadRead' } },
  [functionNames.stateMatches]: { route: 'states/{state}/matches', methods: ['GET'], policy: { kind: 'stateMatchRecords' }, audit: { returned: matchesReturned } },
  [functionNames.matchRecord]: {
    route: 'matches/{matchId}',
    methods: ['GET'],
    policy: { kind: 'matchRead' },
    audit: { requested: (request) => [request.params.matchId ?? ''], returned: matchReturned },
  },
  // Counts per state pair, no participant fields: an operator every pair, a state role the pairs of its states.
  [functionNames.matchPairs]: { route: 'matches', methods: ['GET'], policy: { kind: 'ownStates' } },
  // Who read or changed which state's data: operators every state, a state role its own states (the handler filters).
  [functionNames.auditRecords]: { route: 'audit', methods: ['GET'], policy: { kind: 'ownStates' } },
  // The operator console: an upload's orchestration as a timeline, and the actions an Operator.Admin may take on it.
  [functionNames.orchestration]: { route: 'uploads/{uploadId}/orchestration', methods: ['GET'], policy: { kind: 'operator', admin: false } },
  [functionNames.orchestrationAction]: {
    route: 'uploads/{uploadId}/orchestration/{action}',
    methods: ['POST'],
    policy: { kind: 'operator', admin: true },
    audit: { requested: (request) => [request.params.uploadId ?? ''] },
  },
  [functionNames.dashboard]: {
    route: 'dashboard/{*asset}',
    methods: ['GET'],
    policy: { kind: 'public', why: 'the page, its assets and its sign-in settings hold no data; every figure comes from the API' },
  },
} as const satisfies Record<string, HttpRoute>;

export type HttpFunctionName = keyof typeof httpRoutes;

/**
 * Registration options of a route from the table. Every route is `anonymous` to the Functions host: a function key
 * is one shared secret that reads every state, so the app checks each caller's own token instead (accessGuard.ts).
 */
export function httpOptions(name: HttpFunctionName): { route: string; methods: HttpMethod[]; authLevel: 'anonymous' } {
  const { route, methods } = httpRoutes[name];
  return { route, methods: [...methods], authLevel: 'anonymous' };
}
