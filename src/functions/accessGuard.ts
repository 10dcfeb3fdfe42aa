import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { callerLabel, canRead, canReadMatchRecords, canUpload, hasAnyRole, holdsState, type Principal } from '../auth/principal.js';
import { createRateLimiter, type RateLimit } from '../auth/rateLimiter.js';
import { createTokenValidator, type Authenticate } from '../auth/tokenValidator.js';
import type { AppClients } from '../composition.js';
import { uploadIdOfInstance, uploadStateOf } from '../engine/index.js';
import { matchStates } from '../engine/matchReads.js';
import { httpRoutes, type AccessPolicy, type HttpFunctionName } from './httpRoutes.js';
import { problem } from './httpEncoders.js';

export interface AccessGuardDeps {
  readonly authenticate: Authenticate;
  readonly rateLimit: RateLimit;
  /** The state of an upload named by id, instance id or blob name; undefined when there is none. */
  readonly uploadState: (idOrBlob: string) => Promise<string | undefined>;
  /** The two states of a match record; undefined when there is none. */
  readonly matchStates: (matchId: string) => Promise<readonly [string, string] | undefined>;
}

/** Handlers get the caller as their second argument; the last argument is always the InvocationContext. */
/** The guard of the app: token settings and the rate limit from the app settings, read on first use. */
export function makeAccessGuard({ settings, db }: Pick<AppClients, 'settings' | 'db'>) {
  let authenticate: Authenticate | undefined;
  let rateLimit: RateLimit | undefined;
  return createAccessGuard({
    authenticate: (header) => (authenticate ??= createTokenValidator(settings().auth))(header),
    rateLimit: async (callerId) => (rateLimit ??= createRateLimiter(await db(), { limit: settings().auth.rateLimitPerMinute }))(callerId),
    uploadState: async (id) => uploadStateOf(await db(), id.includes('/') ? id : uploadIdOfInstance(id)),
    matchStates: async (id) => matchStates(await db(), id),
  });
}

type Protected<R extends unknown[]> = (request: HttpRequest, principal: Principal, ...rest: R) => Promise<HttpResponseInit>;
type Open<R extends unknown[]> = (request: HttpRequest, ...rest: R) => Promise<HttpResponseInit>;

export const STATE_PATTERN = /^[A-Za-z]{2}$/;
const REALM = 'Bearer realm="bulkflow"';

/**
 * The 404 for an upload that does not exist and for one the caller may not read: the two must not differ, and
 * neither repeats the id asked for.
 */
export const uploadNotFound = (): HttpResponseInit => problem(404, 'Upload not found', 'there is no such upload among the uploads you may read');

/** The same for a match record: one that does not exist and one of two other states answer alike. */
export const matchNotFound = (): HttpResponseInit => problem(404, 'Match not found', 'there is no such match among the matches you may read');

/**
 * Applies the route table's policy before a handler runs: authenticate (401) → a bulkflow role (403) → the
 * per-caller rate limit (429) → the route's own rule (403 for a state you do not hold, 404 for an upload of
 * another state). Routes are registered `authLevel: 'anonymous'` because this check replaces function keys:
 * a key is one shared secret that reads every state, a token names its caller and its states.
 */
export function createAccessGuard(deps: AccessGuardDeps) {
  return {
    /** A route whose policy is not public: the handler runs only for an authorised caller. */
    protect<R extends unknown[]>(name: HttpFunctionName, handler: Protected<R>): Open<R> {
      const policy: AccessPolicy = httpRoutes[name].policy;
      if (policy.kind === 'public') throw new Error(`route ${name} is public in httpRoutes; register it with open()`);
      return async (request, ...rest) => {
        const context = rest[rest.length - 1] as InvocationContext;
        const authentication = await deps.authenticate(request.headers.get('authorization'));
        if (!authentication.ok) {
          context.warn(`access denied: status=401 reason="${authentication.reason}"`);
          const challenge = authentication.error === 'missing' ? REALM : `${REALM}, error="invalid_token", error_description="${authentication.reason}"`;
          return problem(401, 'Unauthorized', `a valid bearer token is required: ${authentication.reason}`, { 'www-authenticate': challenge });
        }
        const { principal } = authentication;
        const deny = (status: number, reason: string, response: HttpResponseInit) => {
          context.warn(`access denied: status=${status} ${callerLabel(principal)} reason="${reason}"`);
          return response;
        };
        if (!hasAnyRole(principal)) {
          return deny(403, 'no role', problem(403, 'Forbidden', 'the token carries no bulkflow role (State.XX or Operator.Read)'));
        }
        const rate = await deps.rateLimit(principal.callerId);
        if (!rate.allowed) {
          return deny(429, 'rate limit', problem(429, 'Too many requests', `try again in ${rate.retryAfterSeconds} s`, { 'retry-after': String(rate.retryAfterSeconds) }));
        }
        const verdict = await check(policy, request, principal, deps);
        if (!verdict.ok && verdict.denied) return deny(verdict.status, verdict.reason, verdict.response);
        if (!verdict.ok) {
          // Not a denial (an id that does not exist, a malformed state): the caller's own mistake, logged quietly.
          context.log(`refused: function=${name} status=${verdict.status} ${callerLabel(principal)} reason="${verdict.reason}"`);
          return verdict.response;
        }
        context.log(`access: function=${name} ${callerLabel(principal)}${verdict.state ? ` state=${verdict.state}` : ''}`);
        return handler(request, principal, ...rest);
      };
    },
    /** A public route (the dashboard's static files): checked against the table so nothing data-bearing is open. */
    open<R extends unknown[]>(name: HttpFunctionName, handler: Open<R>): Open<R> {
      if (httpRoutes[name].policy.kind !== 'public') throw new Error(`route ${name} is not public in httpRoutes; register it with protect()`);
      return handler;
    },
  };
}

/** Allowed (with the state the request concerns, for the log) or refused with the response to send. */
type Verdict =
  | { ok: true; state?: string }
  /** `denied`: the caller asked for something of a state it does not hold (logged as a warning). */
  | { ok: false; denied: boolean; status: number; reason: string; response: HttpResponseInit };

async function check(policy: AccessPolicy, request: HttpRequest, principal: Principal, deps: AccessGuardDeps): Promise<Verdict> {
  switch (policy.kind) {
    case 'stateRead':
    case 'stateUpload':
    case 'stateMatchRecords':
    case 'stateMatchQuery': {
      const state = request.params.state ?? '';
      if (!STATE_PATTERN.test(state)) {
        return { ok: false, denied: false, status: 400, reason: 'bad state', response: problem(400, 'Bad request', 'state must be a 2-letter code') };
      }
      const [allowed, verb] = {
        stateRead: [canRead, 'read'] as const,
        stateUpload: [canUpload, 'upload for'] as const,
        stateMatchRecords: [canReadMatchRecords, 'read the match records of'] as const,
        stateMatchQuery: [holdsState, 'query matches for'] as const,
      }[policy.kind];
      if (allowed(principal, state)) return { ok: true, state: state.toUpperCase() };
      return { ok: false, denied: true, status: 403, reason: `cannot ${verb} ${state.toUpperCase()}`, response: problem(403, 'Forbidden', `your roles do not let you ${verb} state ${state.toUpperCase()}`) };
    }
    case 'uploadRead': {
      const id = request.params.uploadId ?? request.query.get('blob');
      if (!id) return { ok: true }; // the handler explains what to pass
      const state = await deps.uploadState(id);
      if (state !== undefined && canRead(principal, state)) return { ok: true, state };
      return { ok: false, denied: state !== undefined, status: 404, reason: state === undefined ? 'no such upload' : 'upload of another state', response: uploadNotFound() };
    }
    case 'matchRead': {
      const states = await deps.matchStates(request.params.matchId ?? '');
      const readable = states?.find((state) => canReadMatchRecords(principal, state));
      if (readable) return { ok: true, state: readable };
      return { ok: false, denied: states !== undefined, status: 404, reason: states === undefined ? 'no such match' : 'match of other states', response: matchNotFound() };
    }
    case 'matchSideWrite': {
      const states = await deps.matchStates(request.params.matchId ?? '');
      const readable = states?.find((state) => canReadMatchRecords(principal, state));
      if (!states || !readable) {
        return { ok: false, denied: states !== undefined, status: 404, reason: states === undefined ? 'no such match' : 'match of other states', response: matchNotFound() };
      }
      const side = (request.params.state ?? '').toUpperCase();
      if (states.includes(side) && holdsState(principal, side)) return { ok: true, state: side };
      return { ok: false, denied: true, status: 403, reason: 'side of another state', response: problem(403, 'Forbidden', 'you may change only your own state\'s side of this match') };
    }
    case 'operatorAction':
      if (principal.operator) return { ok: true };
      return { ok: false, denied: true, status: 403, reason: 'not an operator', response: problem(403, 'Forbidden', 'only an operator may do this') };
    case 'ownStates':
    case 'public':
      return { ok: true };
  }
}
