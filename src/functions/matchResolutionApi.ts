import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Principal } from '../auth/principal.js';
import { publishNowOrDefer } from '../adapters/eventPublisher.js';
import type { AppClients } from '../composition.js';
import type { z } from 'zod';
import { type FieldError, type Jurisdiction, reopenMatch, updateDisposition } from '../engine/index.js';
import { json, matchNotFound, problem } from './httpEncoders.js';
import { type dispositionPatch, matchView, reopened, type reopenRequest } from './matchBodies.js';
const ETAG = /^"(\d{1,9})"$/;

/** The ETag of a record: its version (the number of changes to its dispositions). */
export const matchEtag = (version: number): string => `"${version}"`;

/** What the match resolution handlers are called with (the edge decoded and authorised it). */
interface ResolutionCall<P, B> {
  request: HttpRequest;
  caller: Principal;
  params: P;
  context: InvocationContext;
  body: B;
}

/**
 * PATCH /api/matches/{matchId}/dispositions/{state} with `If-Match` and a JSON merge patch of disposition fields
 * (null clears one): 200 with the record as the state sees it and its new ETag; 428 without If-Match, 412 when the
 * record changed since (with the current ETag), 409 when it is closed, 400 naming each field that breaks a rule.
 * The change is announced to the other state through the outbox.
 */
export function updateOwnDisposition({ db, publishPendingEvents }: Pick<AppClients, 'db' | 'publishPendingEvents'>) {
  return async ({ request, caller, params: { matchId, state }, context, body: patch }: ResolutionCall<{ matchId: string; state: Jurisdiction }, z.output<typeof dispositionPatch>>): Promise<HttpResponseInit> => {
    const version = ifMatchVersion(request);
    if (!version.ok) return version.response;
    const result = await updateDisposition(await db(), { matchId, state, actor: actorOf(caller), ifMatch: version.value, patch });
    if (!result.ok) {
      switch (result.reason) {
        case 'not_found': return matchNotFound(); // purged between the edge's check and here
        case 'stale': return stale(result.version);
        case 'closed': return problem(409, 'Match closed', 'the match is closed: its dispositions no longer change (an operator can reopen it)');
        case 'invalid': return invalid(result.errors);
        case 'not_closed_by_states': throw new Error('unreachable');
      }
    }
    if (result.changed) await publishNowOrDefer(publishPendingEvents, context, 'match resolution');
    return json(matchView, result.view, 200, { etag: matchEtag(result.view.version) });
  };
}

/**
 * POST /api/matches/{matchId}/reopen `{"reason": "recorded_in_error" | "state_request"}` (Operator.Admin): opens a
 * record its states closed, so they can change their dispositions again. Answers the id, status and ETag only: an
 * operator never reads a record's participants. If-Match is optional (nothing but a reopening changes a closed record).
 */
export function reopen({ db, publishPendingEvents }: Pick<AppClients, 'db' | 'publishPendingEvents'>) {
  return async ({ request, caller, params: { matchId }, context, body: { reason } }: ResolutionCall<{ matchId: string }, z.output<typeof reopenRequest>>): Promise<HttpResponseInit> => {
    const version = request.headers.get('if-match') === null ? undefined : ifMatchVersion(request);
    if (version && !version.ok) return version.response;
    const result = await reopenMatch(await db(), { matchId, actor: actorOf(caller), reason, ...(version ? { ifMatch: version.value } : {}) });
    if (!result.ok) {
      if (result.reason === 'not_found') return matchNotFound();
      if (result.reason === 'stale') return stale(result.version);
      return problem(409, 'Match not closed by its states', 'only a match its states closed (final dispositions or an invalid match) can be reopened');
    }
    await publishNowOrDefer(publishPendingEvents, context, 'match resolution');
    return json(reopened, { matchId: result.matchId, status: result.status, version: result.version }, 200, { etag: matchEtag(result.version) });
  };
}

function ifMatchVersion(request: HttpRequest): { ok: true; value: number } | { ok: false; response: HttpResponseInit } {
  const header = request.headers.get('if-match');
  if (header === null) {
    return { ok: false, response: problem(428, 'Precondition required', 'send If-Match with the ETag of the match as you read it, so no one else\'s change is overwritten') };
  }
  const match = ETAG.exec(header.trim());
  // Anything else (a list, a weak tag, *) never equals the record's current ETag.
  return match ? { ok: true, value: Number(match[1]) } : { ok: false, response: problem(412, 'Precondition failed', 'If-Match must be the ETag of the match as you read it') };
}

function stale(version: number): HttpResponseInit {
  return problem(412, 'Precondition failed', 'the match changed since you read it: read it again and reapply your change', { etag: matchEtag(version) });
}

function invalid(errors: FieldError[]): HttpResponseInit {
  return problem(400, 'Bad request', errors.map((error) => (error.field ? `${error.field} ${error.message}` : error.message)).join('; '));
}

const actorOf = (caller: Principal) => ({ callerId: caller.callerId, clientId: caller.clientId });
