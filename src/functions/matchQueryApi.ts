import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import type { AppClients } from '../composition.js';
import { type Jurisdiction, queryPersons, runMatchQuery } from '../engine/index.js';
import { json } from './httpEncoders.js';
import { matchQueryAnswer, type matchQueryRequest } from './matchBodies.js';

/**
 * POST /api/states/{state}/match-queries `{"data": [{"lds_hash", "participant_id"?, "case_id"?}, ...]}` (the state's
 * own role): each person's matches in the other states' active uploads, one match record per hit (created or reused),
 * `{"data": {"results": [{"index", "matches": [...]}]}}`. Logs counts only: never a hash or an id of a person.
 */
export function matchQuery({ db }: Pick<AppClients, 'db'>) {
  return async ({ params: { state }, context, body }: { params: { state: Jurisdiction }; context: InvocationContext; body: z.output<typeof matchQueryRequest> }): Promise<HttpResponseInit> => {
    const persons = queryPersons(body);
    const answer = await runMatchQuery(await db(), state, persons, context.invocationId);
    const created = answer.results.reduce((total, result) => total + result.matches.filter((match) => match.created).length, 0);
    context.log(`match query: state=${state} persons=${persons.length} hits=${answer.hits} created=${created}`);
    return json(matchQueryAnswer, { state, data: { results: answer.results } });
  };
}
