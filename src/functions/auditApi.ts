import type { HttpResponseInit } from '@azure/functions';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import { type Jurisdiction, listAuditRecords } from '../engine/index.js';
import type { Returned } from './auditSeam.js';
import { json, problem } from './httpEncoders.js';
import { auditPage } from './operationsBodies.js';

interface AuditQuery {
  state?: Jurisdiction;
  from?: Date;
  to?: Date;
  after?: string;
  limit: number;
}

/**
 * GET /api/audit?state=&from=&to=&after=&limit= : audit records newest first (`next` is the cursor for `after`). An
 * operator reads every record, or one state's; a state role reads the records touching its own states (who read its
 * data, operators and the other state of a match included) and gets 403 for any other state.
 */
export function auditRecords({ db }: Pick<AppClients, 'db'>) {
  return async ({ caller, query }: { caller: Principal; query: AuditQuery }): Promise<HttpResponseInit> => {
    const { state, from, to, after, limit } = query;
    if (state !== undefined && !caller.operator && !caller.states.includes(state)) {
      return problem(403, 'Forbidden', `your roles do not let you read the audit of state ${state}`);
    }
    const states = state !== undefined ? [state] : caller.operator ? undefined : caller.states;
    const page = await listAuditRecords(await db(), {
      limit, ...(states ? { states } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}), ...(after ? { after } : {}),
    });
    return json(auditPage, page);
  };
}

/**
 * Reading the audit trail is itself audited (AU-9: access to audit information): which states' records were read,
 * and how many audit records (they hold ids, never row values).
 */
export function auditRead(body: unknown): Returned {
  const records = (body as { records: Array<{ states: string[] }> }).records;
  return { records: records.length, states: [...new Set(records.flatMap((record) => record.states))].sort() };
}
