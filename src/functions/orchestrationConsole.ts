import type { HttpResponseInit } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import { instanceIdOf, type UploadRef } from '../engine/index.js';
import { orchestrationTimeline, type HistoryEvent } from '../status/orchestrationTimeline.js';
import { json, problem } from './httpEncoders.js';
import { orchestrationActionAccepted, orchestrationTimelineBody } from './operationsBodies.js';

/** The actions an Operator.Admin may take, and the runtime states each applies to (anything else: 409). */
export const consoleActions = {
  /** Runs the failed call again and carries on from there, keeping every step that succeeded (when `rewindable`). */
  rewind: ['Failed'],
  /** Runs the orchestration again from its first step under the same instance id: every step is idempotent. */
  restart: ['Failed', 'Terminated'],
  /** Stops a running or stuck orchestration for good; its upload stays unfinished until housekeeping clears it. */
  terminate: ['Pending', 'Running', 'Suspended'],
} as const satisfies Record<string, readonly string[]>;
export type ConsoleAction = keyof typeof consoleActions;

/** `{action}` of the action route. */
export const consoleActionParam = z.enum(Object.keys(consoleActions) as [ConsoleAction, ...ConsoleAction[]], { error: 'action must be rewind, restart or terminate' });

interface StatusPayload {
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  output: unknown;
  historyEvents?: HistoryEvent[];
}

/**
 * The operator console's API. The durable client's management URLs (which carry the host's system key) are used
 * inside the app only; the browser gets the timeline. The same code runs against Azure's and the local host's
 * Durable Functions HTTP API: the JS client's getStatus drops the history it asks for
 * (Azure/azure-functions-durable-js#620), so the status is read from its status URL directly.
 */

/** The upload's orchestration instance id (a path's `{uploadId}` is always decoded to an upload id). */
const instanceOf = (upload: UploadRef): string => instanceIdOf((upload as { uploadId: string }).uploadId);

/** GET /api/uploads/{uploadId}/orchestration : the upload's orchestration as a timeline of steps. */
export function orchestration() {
  return async ({ params, client }: { params: { uploadId: UploadRef }; client: DurableClient }): Promise<HttpResponseInit> => {
    const instanceId = instanceOf(params.uploadId);
    const status = await readStatus(client, instanceId, true);
    if (!status) return problem(404, 'No orchestration', 'this upload has no orchestration history (never started, or purged after DURABLE_HISTORY_RETENTION_DAYS)');
    const timeline = orchestrationTimeline(status.historyEvents ?? []);
    const failure = status.runtimeStatus === 'Failed' && typeof status.output === 'string' ? status.output : timeline.failure;
    return json(orchestrationTimelineBody, {
      instanceId,
      runtimeStatus: status.runtimeStatus,
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
      ...timeline,
      failure,
      actions: (Object.keys(consoleActions) as ConsoleAction[]).filter((action) => applies(action, status, timeline.rewindable)),
    });
  };
}

/** POST /api/uploads/{uploadId}/orchestration/{action} : rewind, restart or terminate (Operator.Admin, audited). */
export function orchestrationAction() {
  return async ({ params, caller, client }: { params: { uploadId: UploadRef; action: ConsoleAction }; caller: Principal; client: DurableClient }): Promise<HttpResponseInit> => {
    const { action } = params;
    const instanceId = instanceOf(params.uploadId);
    const status = await readStatus(client, instanceId, action === 'rewind');
    if (!status) return problem(404, 'No orchestration', 'this upload has no orchestration to act on');
    const allowed = consoleActions[action] as readonly string[];
    if (!allowed.includes(status.runtimeStatus)) {
      // Repeating an action finds the orchestration already moved on and changes nothing.
      return problem(409, 'Not applicable', `${action} applies to ${allowed.join(' or ')} orchestrations; this one is ${status.runtimeStatus}`);
    }
    if (!applies(action, status, orchestrationTimeline(status.historyEvents ?? []).rewindable)) {
      return problem(409, 'Not rewindable', 'this orchestration did more after its failed call (a retry or a later step), which a rewind cannot replay; restart it instead');
    }
    // The reason is kept in the orchestration's history: ids only, never free text from the request.
    const reason = `operator ${action} by ${caller.callerId}`;
    switch (action) {
      case 'terminate':
        await client.terminate(instanceId, reason);
        break;
      case 'rewind':
        try {
          await client.rewind(instanceId, reason);
        } catch (error) {
          // A concurrent rewind got there first (the runtime refuses one that is no longer Failed): nothing changed.
          const now = await readStatus(client, instanceId, false);
          if (now && now.runtimeStatus !== 'Failed') return problem(409, 'Not applicable', `rewind applies to Failed orchestrations; this one is ${now.runtimeStatus}`);
          // A storage provider without rewind answers 501 (the JS client's "not supported" message).
          if (/not supported/i.test((error as Error).message)) {
            return problem(501, 'Rewind not supported', 'the Durable Functions storage provider of this deployment cannot rewind; restart the orchestration instead');
          }
          throw error;
        }
        break;
      case 'restart':
        await restartSameId(client, instanceId);
        break;
    }
    return json(orchestrationActionAccepted, { instanceId, action, runtimeStatusBefore: status.runtimeStatus }, 202);
  };
}

/** Whether `action` applies to the orchestration as it is: its runtime status, and for rewind a history it can replay. */
function applies(action: ConsoleAction, status: StatusPayload, rewindable: boolean): boolean {
  return (consoleActions[action] as readonly string[]).includes(status.runtimeStatus) && (action !== 'rewind' || rewindable);
}

/** The status, with its history when asked; undefined when the instance does not exist. */
async function readStatus(client: DurableClient, instanceId: string, history: boolean): Promise<StatusPayload | undefined> {
  const url = new URL(client.createHttpManagementPayload(instanceId).statusQueryGetUri);
  url.searchParams.set('showInput', 'false');
  if (history) url.searchParams.set('showHistory', 'true');
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (response.status !== 200 && response.status !== 202) throw new Error(`orchestration status: HTTP ${response.status}`);
  return (await response.json()) as StatusPayload;
}

/** The Durable Functions restart API with the same instance id (the JS client has no restart method). */
async function restartSameId(client: DurableClient, instanceId: string): Promise<void> {
  const payload = client.createHttpManagementPayload(instanceId) as unknown as { restartPostUri?: string };
  if (!payload.restartPostUri) throw new Error('the durable client offers no restart URL');
  const url = new URL(payload.restartPostUri);
  url.searchParams.set('restartWithNewInstanceId', 'false');
  const response = await fetch(url, { method: 'POST' });
  if (response.status !== 202) throw new Error(`orchestration restart: HTTP ${response.status}`);
}
