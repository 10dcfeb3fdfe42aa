import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import { listAuditRecords } from '../engine/auditTrail.js';
import { STATE_PATTERN } from './accessGuard.js';
import { BadRequest, intParam } from './httpDecoders.js';
import { json, problem } from './httpEncoders.js';

/**
 * GET /api/audit?state=&from=&to=&after=&limit= : audit records newest first (`next` is the cursor for `after`). An
 * operator reads every record, or one state's; a state role reads the records touching its own states (who read its
 * data, operators and the other state of a match included) and gets 403 for any other state.
 */
export function makeAuditApi({ db }: Pick<AppClients, 'db'>) {
  return async function auditRecords(request: HttpRequest, caller: Principal): Promise<HttpResponseInit> {
    try {
      const state = request.query.get('state') || undefined;
      if (state !== undefined && !STATE_PATTERN.test(state)) throw new BadRequest('state must be a 2-letter code');
      const wanted = state?.toUpperCase();
      if (wanted !== undefined && !caller.operator && !caller.states.includes(wanted)) {
        return problem(403, 'Forbidden', `your roles do not let you read the audit of state ${wanted}`);
      }
      const states = wanted !== undefined ? [wanted] : caller.operator ? undefined : caller.states;
      const from = timeParam(request.query.get('from'), 'from');
      const to = timeParam(request.query.get('to'), 'to');
      const after = request.query.get('after') || undefined;
      if (after !== undefined && !/^[1-9]\d{0,18}$/.test(after)) throw new BadRequest('after must be a cursor returned as next');
      const limit = intParam(request.query.get('limit'), 'limit', 1, 500, 100);
      const page = await listAuditRecords(await db(), {
        limit, ...(states ? { states } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}), ...(after ? { after } : {}),
      });
      return json(page);
    } catch (error) {
      if (error instanceof BadRequest) return problem(400, 'Bad request', error.message);
      throw error;
    }
  };
}

function timeParam(value: string | null, name: string): Date | undefined {
  if (!value) return undefined;
  const time = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(time.getTime())) throw new BadRequest(`${name} must be an ISO 8601 date or time`);
  return time;
}
