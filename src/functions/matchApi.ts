import type { HttpResponseInit } from '@azure/functions';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import { getMatch, type Jurisdiction, listNeedsAction, listStateMatches, matchPairCounts, type MatchStatus } from '../engine/index.js';
import { json, matchNotFound } from './httpEncoders.js';
import { matchPage, matchPairList, matchView } from './matchBodies.js';
import { matchEtag } from './matchResolutionApi.js';

/**
 * The match API. Every handler runs behind the edge (accessGuard.ts): the state's own role for its records, one of
 * the record's two states for one record; counts per state pair for anyone with a role.
 */

/**
 * GET /api/states/{state}/matches?status=open|closed|needs-action&after=&limit= : the state's records in match id
 * order, each with the state's own participant and disposition and the other state's participant fields and
 * disposition (`next` is the cursor for `after`). `needs-action`: the open records whose own side has recorded no
 * initial action MATCH_NEEDS_ACTION_DAYS after they opened.
 */
export function stateMatches({ db, settings }: Pick<AppClients, 'db' | 'settings'>) {
  return async ({ params: { state }, query }: { params: { state: Jurisdiction }; query: { status: MatchStatus | 'needs-action'; limit: number; after?: string } }): Promise<HttpResponseInit> => {
    const { status, limit, after } = query;
    const cursor = after ? { after } : {};
    const page = status === 'needs-action'
      ? await listNeedsAction(await db(), state, { days: settings().matchNeedsActionDays, limit, ...cursor })
      : await listStateMatches(await db(), state, { status, limit, ...cursor });
    return json(matchPage, { state, status, matches: page.matches, next: page.next });
  };
}

/** GET /api/matches/{matchId} : one record as the caller's state sees it (the edge checked it is one of its two). */
export function matchRecord({ db }: Pick<AppClients, 'db'>) {
  return async ({ params: { matchId }, caller }: { params: { matchId: string }; caller: Principal }): Promise<HttpResponseInit> => {
    const pool = await db();
    // A caller holding both states sees it from the first of them.
    for (const state of caller.states) {
      const view = await getMatch(pool, matchId, state);
      if (view) return json(matchView, view, 200, { etag: matchEtag(view.version) });
    }
    return matchNotFound(); // purged between the edge's check and here
  };
}

/** GET /api/matches : open and closed records per state pair, counts only (an operator every pair). */
export function matchPairs({ db }: Pick<AppClients, 'db'>) {
  return async ({ caller }: { caller: Principal }): Promise<HttpResponseInit> =>
    json(matchPairList, { pairs: await matchPairCounts(await db(), caller.operator ? undefined : caller.states) });
}
