import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AppClients } from '../composition.js';
import { type Jurisdiction, parseMatchQuery, runMatchQuery } from '../engine/index.js';
import { json, problem } from './httpEncoders.js';
import { readJsonBody } from './jsonBody.js';
import { matchQueryAnswer } from './matchBodies.js';

/** 50 persons of ~200 bytes each, with room for formatting. */
export const MATCH_QUERY_MAX_BYTES = 64 * 1024;

/**
 * POST /api/states/{state}/match-queries `{"data": [{"lds_hash", "participant_id"?, "case_id"?}, ...]}` (the state's
 * own role): each person's matches in the other states' active uploads, one match record per hit (created or reused),
 * `{"data": {"results": [{"index", "matches": [...]}]}}`. Logs counts only: never a hash or an id of a person.
 */
export function matchQuery({ db }: Pick<AppClients, 'db'>) {
  return async ({ request, params: { state }, context }: { request: HttpRequest; params: { state: Jurisdiction }; context: InvocationContext }): Promise<HttpResponseInit> => {
    const body = await readJsonBody(request, MATCH_QUERY_MAX_BYTES);
    if (!body.ok) return body.response;
    const parsed = parseMatchQuery(body.body);
    if (!parsed.ok) return problem(400, 'Bad request', parsed.errors.join('; '));
    const answer = await runMatchQuery(await db(), state, parsed.persons, context.invocationId);
    const created = answer.results.reduce((total, result) => total + result.matches.filter((match) => match.created).length, 0);
    context.log(`match query: state=${state} persons=${parsed.persons.length} hits=${answer.hits} created=${created}`);
    return json(matchQueryAnswer, { state, data: { results: answer.results } });
  };
}
