import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { EventType, historyEvent, subOrchestrationEnded } from './history.js';
import type { Outbox } from './outbox.js';
import { notifySql } from './store.js';

export interface InstanceRow {
  instance_id: string;
  execution_id: string;
  name: string;
  status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  parent_task_id: number | null;
  created_at: Date;
  updated_at: Date;
}

export class InstanceExistsError extends Error {
  constructor(readonly instanceId: string, readonly status: string) {
    super(`An Orchestration instance with the status ${status} already exists.`);
  }
}

export interface StartRequest {
  name: string;
  instanceId: string;
  /** JSON text of the input, or null. */
  input: string | null;
  parent?: { instanceId: string; executionId: string; taskId: number };
  /** ContinueAsNew: keep external events not yet delivered (they belong to whichever execution is current). */
  carryOverEvents?: boolean;
}

/**
 * Creates the instance (Pending) and its ExecutionStarted message. Like DTFx's default
 * OverridableExistingInstanceStates, a Completed/Failed/Terminated instance is replaced and a
 * Pending/Running/Suspended one is refused; the INSERT ... ON CONFLICT makes concurrent starts of one id safe.
 */
export async function startInstance(client: pg.PoolClient, outbox: Outbox, request: StartRequest): Promise<string> {
  const executionId = randomUUID().replaceAll('-', '');
  const { rows } = await client.query<{ instance_id: string }>(
    `INSERT INTO instances AS i (instance_id, execution_id, name, status, input, parent_instance_id, parent_execution_id, parent_task_id)
     VALUES ($1, $2, $3, 'Pending', $4, $5, $6, $7)
     ON CONFLICT (instance_id) DO UPDATE SET execution_id = $2, name = $3, status = 'Pending', input = $4, output = NULL,
       custom_status = NULL, parent_instance_id = $5, parent_execution_id = $6, parent_task_id = $7, created_at = now(), updated_at = now()
     WHERE i.status NOT IN ('Pending', 'Running', 'Suspended')
     RETURNING instance_id`,
    [request.instanceId, executionId, request.name, request.input, request.parent?.instanceId ?? null, request.parent?.executionId ?? null, request.parent?.taskId ?? null],
  );
  if (rows.length === 0) {
    const existing = await client.query<{ status: string }>('SELECT status FROM instances WHERE instance_id = $1', [request.instanceId]);
    throw new InstanceExistsError(request.instanceId, existing.rows[0]?.status ?? 'Running');
  }
  await client.query('DELETE FROM history WHERE instance_id = $1', [request.instanceId]);
  await client.query(
    `DELETE FROM inbox WHERE instance_id = $1 AND ($2::boolean IS NOT TRUE OR execution_id IS NOT NULL)`,
    [request.instanceId, request.carryOverEvents ?? false],
  );
  outbox.inbox.push({
    instanceId: request.instanceId,
    executionId,
    event: historyEvent(EventType.ExecutionStarted, {
      Name: request.name,
      Input: request.input,
      Version: '',
      OrchestrationInstance: { InstanceId: request.instanceId, ExecutionId: executionId },
      ParentInstance: request.parent
        ? { OrchestrationInstance: { InstanceId: request.parent.instanceId, ExecutionId: request.parent.executionId }, TaskScheduleId: request.parent.taskId }
        : null,
    }),
  });
  return executionId;
}

/** Tells a parent orchestration that its sub-orchestration ended. */
export function notifyParent(outbox: Outbox, row: InstanceRow, outcome: { result: string } | { reason: string; details: string }): void {
  if (!row.parent_instance_id || row.parent_task_id === null) return;
  outbox.inbox.push({ instanceId: row.parent_instance_id, executionId: row.parent_execution_id, event: subOrchestrationEnded(row.parent_task_id, outcome) });
}

export function newInstanceId(): string {
  return randomUUID().replaceAll('-', '');
}

/** The extension's rule for caller-chosen instance ids. */
export function invalidInstanceId(id: string): string | undefined {
  if (id.length === 0) return 'Instance ID must not be empty.';
  if (id.length > 256) return `Instance ID lengths must not exceed 256 characters.`;
  if (id.startsWith('@')) return `Orchestration instance ids must not start with @.`;
  if (/[/\\?#]/.test(id) || /[\u0000-\u001f\u007f-\u009f]/.test(id)) return `Instance ID '${id}' contains invalid characters.`;
  return undefined;
}

/** The extension releases the entity locks an orchestration still holds when it ends. */
export async function releaseLocks(client: pg.PoolClient, schema: string, instanceId: string): Promise<void> {
  const { rowCount } = await client.query('UPDATE entities SET locked_by = NULL WHERE locked_by = $1', [instanceId]);
  if (rowCount) await client.query(notifySql(schema, 'entities'));
}
