import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { callerLabel, canRead, canReadMatchRecords, canUpload, hasAnyRole, holdsState, type Principal } from '../auth/principal.js';
import { createRateLimiter, type RateLimit } from '../auth/rateLimiter.js';
import { createTokenValidator, type Authenticate } from '../auth/tokenValidator.js';
import type { AppClients } from '../composition.js';
import { matchStates, type UploadRef, uploadStateOf, writeAuditRecord } from '../engine/index.js';
import { answerAudited, type WriteAudit } from './auditSeam.js';
import { STATE_POLICIES, type AccessPolicy, type AnyHttpRoute } from './httpRoutes.js';
import { issuesDetail, matchNotFound, problem, uploadNotFound } from './httpEncoders.js';
import { jsonBodyReader } from './jsonBody.js';

export interface AccessGuardDeps {
  readonly authenticate: Authenticate;
  /** The caller's budget for the route: the API's, or the upload parts' (a route with `budget: 'uploadParts'`). */
  readonly rateLimit: (callerId: string, budget: 'api' | 'uploadParts') => ReturnType<RateLimit>;
  /** The state of an upload; undefined when there is none. */
  readonly uploadState: (upload: UploadRef) => Promise<string | undefined>;
  /** The two states of a match record; undefined when there is none. */
  readonly matchStates: (matchId: string) => Promise<readonly [string, string] | undefined>;
  /** Appends an audit record (routes with an audit rule); rejects when it cannot. */
  readonly writeAudit: WriteAudit;
}

/** The guard of the app: token settings and the rate limit from the app settings, read on first use. */
export function makeAccessGuard({ settings, db }: Pick<AppClients, 'settings' | 'db'>) {
  let authenticate: Authenticate | undefined;
  let rateLimit: RateLimit | undefined;
  let partsRateLimit: RateLimit | undefined;
  return createAccessGuard({
    authenticate: (header) => (authenticate ??= createTokenValidator(settings().auth))(header),
    rateLimit: async (callerId, budget) =>
      budget === 'uploadParts'
        ? (partsRateLimit ??= createRateLimiter(await db(), { limit: settings().uploads.partsPerMinute }))(`${callerId}#uploadParts`)
        : (rateLimit ??= createRateLimiter(await db(), { limit: settings().auth.rateLimitPerMinute }))(callerId),
    uploadState: async (upload) => uploadStateOf(await db(), upload),
    matchStates: async (id) => matchStates(await db(), id),
    writeAudit: async (entry) => writeAuditRecord(await db(), entry),
  });
}

const REALM = 'Bearer realm="bulkflow"';

/**
 * The path parameter a lookup policy names its subject by (required: the policy cannot be checked without it), and
 * the 404 for one that is not there.
 */
const SUBJECTS: Partial<Record<AccessPolicy['kind'], { param: string; required: boolean; notFound: () => HttpResponseInit }>> = {
  uploadRead: { param: 'uploadId', required: true, notFound: uploadNotFound },
  matchRead: { param: 'matchId', required: true, notFound: matchNotFound },
  matchSideWrite: { param: 'matchId', required: true, notFound: matchNotFound },
  operator: { param: 'uploadId', required: false, notFound: uploadNotFound },
};

type Decoded = { params: Record<string, unknown>; query: Record<string, unknown> };

/**
 * The HTTP edge: every route of the table (httpRoutes.ts) runs through it. In order: authenticate (401) → a bulkflow
 * role (403) → the per-caller rate limit (429) → decode the path and query (400 naming the parameter; the route's
 * 404 for an id no upload or match can have) → the route's policy (403 for a state you do not hold, 404 for an
 * upload or match of another state) → its JSON body, decoded by its schema (jsonBody.ts: 415, 413, 400 naming each
 * position) → the handler, with the decoded values. Routes are registered
 * `authLevel: 'anonymous'` because this check replaces function keys: a key is one shared secret that reads every
 * state, a token names its caller and its states.
 */
export function createAccessGuard(deps: AccessGuardDeps) {
  return {
    /** The Functions handler of a row: (request, [durable client,] context), as app.ts registers it. */
    handle(name: string, route: AnyHttpRoute, handler: (call: never) => Promise<HttpResponseInit>) {
      const { policy } = route;
      const subject = SUBJECTS[policy.kind];
      const needed = STATE_POLICIES.has(policy.kind) ? 'state' : subject?.required ? subject.param : undefined;
      if (needed !== undefined && !(needed in route.params)) throw new Error(`route ${name}: a ${policy.kind} route decodes a ${needed} parameter`);
      const decode = decoder(route, subject);
      const readBody = jsonBodyReader(name, route.requestBody);
      return async (request: HttpRequest, ...rest: unknown[]): Promise<HttpResponseInit> => {
        const context = rest[rest.length - 1] as InvocationContext;
        let caller: Principal | undefined;
        if (policy.kind !== 'public') {
          const admitted = await admit(request, route.budget ?? 'api', context);
          if (!admitted.ok) return admitted.response;
          caller = admitted.principal;
        }
        const input = decode(request);
        if (!input.ok) {
          // The caller's own mistake, not a denial: logged quietly, without the values.
          context.log(`refused: function=${name} status=${input.response.status} ${caller ? `${callerLabel(caller)} ` : ''}reason="${input.reason}"`);
          return input.response;
        }
        let state: string | undefined;
        if (caller) {
          const verdict = await check(policy, input, caller, deps);
          if (!verdict.ok) {
            const line = `status=${verdict.response.status} ${callerLabel(caller)} reason="${verdict.reason}"`;
            if (verdict.denied) context.warn(`access denied: ${line}`);
            else context.log(`refused: function=${name} ${line}`);
            return verdict.response;
          }
          state = verdict.state;
          context.log(`access: function=${name} ${callerLabel(caller)}${state ? ` state=${state}` : ''}`);
        }
        const client = route.durableClient ? rest[0] : undefined;
        // Inside the audited answer: a body the route refuses is a request the caller was allowed to make.
        const answer = async () => {
          const body = await readBody(request);
          if (!body.ok) {
            context.log(`refused: function=${name} status=${body.response.status} ${caller ? `${callerLabel(caller)} ` : ''}reason="${body.reason}"`);
            return body.response;
          }
          return handler({ request, caller, params: input.params, query: input.query, client, context, body: body.value } as never);
        };
        if (!caller || !route.audit) return answer();
        return answerAudited(deps.writeAudit, route.audit, { name, request, principal: caller, context, ...(state ? { state } : {}) }, answer);
      };
    },
  };

  /** Authenticate, a bulkflow role, the rate limit: who the caller is, or the answer that refuses it. */
  async function admit(request: HttpRequest, budget: 'api' | 'uploadParts', context: InvocationContext): Promise<{ ok: true; principal: Principal } | { ok: false; response: HttpResponseInit }> {
    const authentication = await deps.authenticate(request.headers.get('authorization'));
    if (!authentication.ok) {
      context.warn(`access denied: status=401 reason="${authentication.reason}"`);
      const challenge = authentication.error === 'missing' ? REALM : `${REALM}, error="invalid_token", error_description="${authentication.reason}"`;
      return { ok: false, response: problem(401, 'Unauthorized', `a valid bearer token is required: ${authentication.reason}`, { 'www-authenticate': challenge }) };
    }
    const { principal } = authentication;
    const deny = (reason: string, response: HttpResponseInit) => {
      context.warn(`access denied: status=${response.status} ${callerLabel(principal)} reason="${reason}"`);
      return { ok: false as const, response };
    };
    if (!hasAnyRole(principal)) return deny('no role', problem(403, 'Forbidden', 'the token carries no bulkflow role (State.XX, Operator.Read or Operator.Admin)'));
    const rate = await deps.rateLimit(principal.callerId, budget);
    if (!rate.allowed) {
      return deny('rate limit', problem(429, 'Too many requests', `try again in ${rate.retryAfterSeconds} s`, { 'retry-after': String(rate.retryAfterSeconds) }));
    }
    return { ok: true, principal };
  }
}

/**
 * Decodes a request's path parameters and query values with the row's decoders. An empty query value counts as
 * absent. A malformed id of a lookup route answers that route's 404: no upload or match can have it, and the answer
 * must not differ from the one for an id that exists elsewhere.
 */
function decoder(route: AnyHttpRoute, subject: { param: string; notFound: () => HttpResponseInit } | undefined) {
  const params = z.object(route.params);
  const query = z.object(route.query);
  return (request: HttpRequest): ({ ok: true } & Decoded) | { ok: false; reason: string; response: HttpResponseInit } => {
    const decodedParams = params.safeParse(pick(route.params, (key) => request.params[key]));
    const decodedQuery = query.safeParse(pick(route.query, (key) => request.query.get(key)));
    const issues = [...(decodedParams.error?.issues ?? []), ...(decodedQuery.error?.issues ?? [])];
    if (decodedParams.success && decodedQuery.success) return { ok: true, params: decodedParams.data, query: decodedQuery.data };
    const names = [...new Set(issues.map((issue) => String(issue.path[0])))];
    if (subject && names.includes(subject.param)) return { ok: false, reason: `malformed ${subject.param}`, response: subject.notFound() };
    return { ok: false, reason: `bad ${names.join(', ')}`, response: problem(400, 'Bad request', issuesDetail(issues)) };
  };
}

function pick(decoders: Readonly<Record<string, unknown>>, value: (key: string) => string | null | undefined): Record<string, string | undefined> {
  return Object.fromEntries(Object.keys(decoders).map((key) => [key, value(key) || undefined]));
}

/** Allowed (with the state the request concerns, for the log) or refused with the response to send. */
type Verdict =
  | { ok: true; state?: string }
  /** `denied`: the caller asked for something of a state it does not hold (logged as a warning). */
  | { ok: false; denied: boolean; reason: string; response: HttpResponseInit };

async function check(policy: AccessPolicy, { params, query }: Decoded, principal: Principal, deps: AccessGuardDeps): Promise<Verdict> {
  switch (policy.kind) {
    case 'stateRead':
    case 'stateUpload':
    case 'stateMatchRecords':
    case 'stateMatchQuery': {
      const state = params.state as string;
      const [allowed, verb] = {
        stateRead: [canRead, 'read'] as const,
        stateUpload: [canUpload, 'upload for'] as const,
        stateMatchRecords: [canReadMatchRecords, 'read the match records of'] as const,
        stateMatchQuery: [holdsState, 'query matches for'] as const,
      }[policy.kind];
      if (allowed(principal, state)) return { ok: true, state };
      return { ok: false, denied: true, reason: `cannot ${verb} ${state}`, response: problem(403, 'Forbidden', `your roles do not let you ${verb} state ${state}`) };
    }
    case 'uploadRead': {
      const upload = (params.uploadId ?? query.blob) as UploadRef | undefined;
      if (!upload) return { ok: true }; // the handler explains what to pass
      const state = await deps.uploadState(upload);
      if (state !== undefined && canRead(principal, state)) return { ok: true, state };
      return { ok: false, denied: state !== undefined, reason: state === undefined ? 'no such upload' : 'upload of another state', response: uploadNotFound() };
    }
    case 'matchRead': {
      const states = await deps.matchStates(params.matchId as string);
      const readable = states?.find((state) => canReadMatchRecords(principal, state));
      if (readable) return { ok: true, state: readable };
      return { ok: false, denied: states !== undefined, reason: states === undefined ? 'no such match' : 'match of other states', response: matchNotFound() };
    }
    case 'matchSideWrite': {
      const states = await deps.matchStates(params.matchId as string);
      if (!states?.some((state) => canReadMatchRecords(principal, state))) {
        return { ok: false, denied: states !== undefined, reason: states === undefined ? 'no such match' : 'match of other states', response: matchNotFound() };
      }
      const side = params.state as string;
      if (states.includes(side) && holdsState(principal, side)) return { ok: true, state: side };
      return { ok: false, denied: true, reason: 'side of another state', response: problem(403, 'Forbidden', 'you may change only your own state\'s side of this match') };
    }
    case 'operator': {
      if (!principal.operator || (policy.admin && !principal.admin)) {
        const role = policy.admin ? 'Operator.Admin' : 'Operator.Read';
        return { ok: false, denied: true, reason: `not ${role}`, response: problem(403, 'Forbidden', `only the ${role} role may do this`) };
      }
      const upload = params.uploadId as UploadRef | undefined;
      if (upload === undefined) return { ok: true };
      const state = await deps.uploadState(upload);
      if (state !== undefined) return { ok: true, state };
      return { ok: false, denied: false, reason: 'no such upload', response: uploadNotFound() };
    }
    case 'ownStates':
    case 'public':
      return { ok: true };
  }
}
