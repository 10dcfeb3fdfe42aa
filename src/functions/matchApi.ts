import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import { getMatch, listNeedsAction, listStateMatches, matchPairCounts, type MatchStatus } from '../engine/matchReads.js';
import { matchNotFound } from './accessGuard.js';
import { BadRequest, intParam } from './httpDecoders.js';
import { json, problem } from './httpEncoders.js';
import { matchEtag } from './matchResolutionApi.js';

const MATCH_ID = /^[A-Za-z0-9_-]{16}$/;

/**
 * The match API. Every handler runs behind the access guard (accessGuard.ts): the state's own role for its records,
 * one of the record's two states for one record; counts per state pair for anyone with a role.
 */
export function makeMatchApi({ db, settings }: Pick<AppClients, 'db' | 'settings'>) {
  /**
   * GET /api/states/{state}/matches?status=open|closed|needs-action&after=&limit= : the state's records in match id
   * order, each with the state's own participant and disposition and the other state's participant fields and
   * disposition (`next` is the cursor for `after`). `needs-action`: open records whose own side has recorded no
   * initial action MATCH_NEEDS_ACTION_DAYS after they opened.
   */
  async function stateMatches(request: HttpRequest, _caller: Principal): Promise<HttpResponseInit> {
    try {
      const state = (request.params.state ?? '').toUpperCase();
      const status = statusParam(request.query.get('status'));
      const limit = intParam(request.query.get('limit'), 'limit', 1, 1000, 100);
      const after = request.query.get('after') || undefined;
      if (after !== undefined && !MATCH_ID.test(after)) throw new BadRequest('after must be a cursor returned as next');
      const cursor = after ? { after } : {};
      const page = status === 'needs-action'
        ? await listNeedsAction(await db(), state, { days: settings().matchNeedsActionDays, limit, ...cursor })
        : await listStateMatches(await db(), state, { status, limit, ...cursor });
      return json({ state, status, matches: page.matches, next: page.next });
    } catch (error) {
      if (error instanceof BadRequest) return problem(400, 'Bad request', error.message);
      throw error;
    }
  }

  /** GET /api/matches/{matchId} : one record as the caller's state sees it (the guard checked it is one of its two). */
  async function matchRecord(request: HttpRequest, caller: Principal): Promise<HttpResponseInit> {
    const pool = await db();
    const matchId = request.params.matchId ?? '';
    // A caller holding both states sees it from the first of them.
    for (const state of caller.states) {
      const view = await getMatch(pool, matchId, state);
      if (view) return { ...json(view), headers: { 'cache-control': 'no-store', etag: matchEtag(view.version) } };
    }
    return matchNotFound(); // purged between the guard's check and here
  }

  /** GET /api/matches : open and closed records per state pair, counts only (an operator every pair). */
  async function matchPairs(_request: HttpRequest, caller: Principal): Promise<HttpResponseInit> {
    return json({ pairs: await matchPairCounts(await db(), caller.operator ? undefined : caller.states) });
  }

  return { stateMatches, matchRecord, matchPairs };
}

function statusParam(value: string | null): MatchStatus | 'needs-action' {
  if (value === null || value === '' || value === 'open') return 'open';
  if (value === 'closed' || value === 'needs-action') return value;
  throw new BadRequest('status must be open, closed or needs-action');
}
