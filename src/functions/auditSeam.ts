import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { rolesOf, type Principal } from '../auth/principal.js';
import type { AuditEntry } from '../engine/index.js';
import { problem } from './httpEncoders.js';

/** What an answer returned, as the audit trail keeps it: ids, how many participant-level records, which states. */
export interface Returned {
  readonly objectIds?: readonly string[];
  /** Participant-level records in the answer; omitted for a change, which returns none. */
  readonly records?: number;
  /** States besides the one the guard checked (the other state of a match). */
  readonly states?: readonly string[];
  /** Persons a real-time match query asked about: how many, never who. */
  readonly personsQueried?: number;
}

/**
 * A route's audit rule in the route table (httpRoutes.ts): declaring one makes every granted request to the route
 * write one audit record before its answer leaves. `requested` names the ids the request asked for (also kept when
 * the answer is an error), `action` what it asked to do; `returned` reads a successful answer's JSON body.
 */
export interface AuditRule {
  readonly requested?: (request: HttpRequest) => readonly string[];
  /** Which of the route's actions the request took, when the route takes several (kept also for a refused one). */
  readonly action?: (request: HttpRequest) => string;
  readonly returned?: (body: unknown) => Returned;
}

export type WriteAudit = (entry: AuditEntry) => Promise<void>;

export interface AuditedCall {
  readonly name: string;
  readonly request: HttpRequest;
  readonly principal: Principal;
  /** The state the guard checked the request against, when there is one. */
  readonly state?: string;
  readonly context: InvocationContext;
}

/**
 * Runs a granted request's handler and writes its audit record. Writing it is part of answering: when the record
 * cannot be written the answer is withheld (503) and nothing it held leaves. A handler that throws is recorded as
 * a 500 before the error goes on.
 */
export async function answerAudited(write: WriteAudit, rule: AuditRule, call: AuditedCall, handle: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  const { request, principal, context } = call;
  const entry = (outcome: number, returned: Returned): AuditEntry => ({
    callerId: principal.callerId,
    clientId: principal.clientId,
    roles: rolesOf(principal),
    states: [...(call.state ? [call.state] : []), ...(returned.states ?? [])],
    route: call.name,
    method: request.method,
    ...(rule.action ? { action: rule.action(request) } : {}),
    objectIds: [...new Set([...(rule.requested?.(request) ?? []), ...(returned.objectIds ?? [])])],
    recordsReturned: returned.records ?? null,
    ...(returned.personsQueried === undefined ? {} : { personsQueried: returned.personsQueried }),
    outcome,
    requestId: context.invocationId,
  });
  let response: HttpResponseInit;
  try {
    response = await handle();
  } catch (error) {
    await write(entry(500, {})).catch((failure: unknown) => auditFailed(context, call.name, failure));
    throw error;
  }
  const status = response.status ?? 200;
  const returned = status < 300 && rule.returned ? rule.returned(response.jsonBody) : {};
  try {
    await write(entry(status, returned));
  } catch (failure) {
    auditFailed(context, call.name, failure);
    return problem(503, 'Service unavailable', 'the request could not be recorded in the audit trail, so nothing is returned; try again shortly', { 'retry-after': '30' });
  }
  return response;
}

function auditFailed(context: InvocationContext, name: string, failure: unknown): void {
  const code = (failure as { code?: string }).code;
  context.error(`audit record not written: function=${name} request=${context.invocationId} reason="${code ?? (failure as Error).message}"`);
}
