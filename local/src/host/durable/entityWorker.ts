import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { errorText, findFunction } from '../invoke.js';
import { EventType, historyEvent } from './history.js';
import { entitySchedulerId, Outbox } from './outbox.js';
import { inTransaction } from './store.js';
import type { TaskHub } from './hub.js';

interface EntityRow {
  entity_id: string;
  name: string;
  key: string;
  state: string | null;
  entity_exists: boolean;
  locked_by: string | null;
}

interface Operation {
  op: string;
  id?: string;
  signal?: boolean;
  input?: string;
  parent?: string;
  parentExecution?: string;
}

interface LockRequest {
  kind: 'lock';
  id: string;
  lockSet: string[];
  position: number;
  parent: string;
  parentExecution: string;
}

type Message = (Operation & { kind?: undefined }) | LockRequest | { kind: 'release'; parent: string };

interface EntityState {
  results: Array<{ isError: boolean; result?: string }>;
  signals: Array<{ target: { name: string; key: string }; name: string; input?: string }>;
  entityExists: boolean;
  entityState?: string;
}

/** The extension's MaxEntityOperationBatchSize outside the Consumption plan is 5000; 50 keeps replies prompt. */
const BATCH_SIZE = 50;

/**
 * Runs entity operations one batch at a time per entity (row lock), FIFO per entity. While an orchestration
 * holds the entity in a critical section, only that orchestration's messages are processed.
 */
export class EntityWorker {
  constructor(
    private readonly hub: TaskHub,
  ) {}

  async step(): Promise<boolean> {
    return inTransaction(this.hub.pool, async (client) => {
      const { rows } = await client.query<EntityRow>(
        // An entity held by a critical section is only eligible for its holder's messages.
        `SELECT * FROM entities e WHERE EXISTS (
           SELECT 1 FROM entity_queue q WHERE q.entity_id = e.entity_id
             AND (e.locked_by IS NULL OR q.message::jsonb ->> 'parent' = e.locked_by))
         LIMIT 1 FOR UPDATE SKIP LOCKED`,
      );
      const entity = rows[0];
      if (!entity) return false;
      const { rows: queued } = await client.query<{ id: string; message: string }>(
        'SELECT id, message FROM entity_queue WHERE entity_id = $1 ORDER BY id LIMIT 500',
        [entity.entity_id],
      );
      const eligible = queued
        .map((q) => ({ id: q.id, message: JSON.parse(q.message) as Message }))
        .filter((q) => entity.locked_by === null || q.message.parent === entity.locked_by);
      const first = eligible[0];
      if (!first) return false;
      const outbox = new Outbox();
      let taken: string[];
      if (first.message.kind === 'lock') {
        taken = [first.id];
        await this.lock(client, outbox, entity, first.message);
      } else if (first.message.kind === 'release') {
        taken = [first.id];
        await client.query('UPDATE entities SET locked_by = NULL WHERE entity_id = $1', [entity.entity_id]);
      } else {
        const batch: Array<{ id: string; message: Operation }> = [];
        for (const item of eligible) {
          if (item.message.kind !== undefined || batch.length >= BATCH_SIZE) break;
          batch.push({ id: item.id, message: item.message });
        }
        taken = batch.map((b) => b.id);
        await this.runBatch(client, outbox, entity, batch.map((b) => b.message));
      }
      await client.query('DELETE FROM entity_queue WHERE id = ANY($1::bigint[])', [taken]);
      await outbox.flush(client, this.hub.schema);
      return true;
    });
  }

  private async lock(client: pg.PoolClient, outbox: Outbox, entity: EntityRow, request: LockRequest): Promise<void> {
    await client.query('UPDATE entities SET locked_by = $2 WHERE entity_id = $1', [entity.entity_id, request.parent]);
    const next = request.lockSet[request.position + 1];
    if (next) {
      outbox.entityMessages.push({ entityId: next, message: { ...request, position: request.position + 1 } });
      return;
    }
    outbox.inbox.push({
      instanceId: request.parent,
      executionId: request.parentExecution,
      event: historyEvent(EventType.EventRaised, { Name: request.id, Input: '{"result":null}' }),
    });
  }

  private async runBatch(client: pg.PoolClient, outbox: Outbox, entity: EntityRow, batch: Operation[]): Promise<void> {
    const fn = findFunction(this.hub.registry, 'entityTrigger', entity.name);
    let state: EntityState;
    if (!fn) {
      const error = JSON.stringify(`The function '${entity.name}' doesn't exist, is disabled, or is not an entity function.`);
      state = { results: batch.map(() => ({ isError: true, result: error })), signals: [], entityExists: entity.entity_exists, entityState: entity.state ?? undefined };
    } else {
      const trigger = {
        self: { name: entity.name, key: entity.key },
        exists: entity.entity_exists,
        state: entity.state,
        batch: batch.map((op) => ({ name: op.op, input: op.input ?? null, isSignal: op.signal === true })),
      };
      const result = await this.hub.invoker.invoke(fn, { trigger: { string: JSON.stringify(trigger) } });
      if (result.error !== undefined) {
        // The whole batch failed (the extension fails every operation of a failed batch); state is unchanged.
        const error = JSON.stringify(errorText(result.error));
        this.hub.logger.warn('entity batch failed', { entity: fn.name, operations: batch.length, error: errorText(result.error) });
        state = { results: batch.map(() => ({ isError: true, result: error })), signals: [], entityExists: entity.entity_exists, entityState: entity.state ?? undefined };
      } else {
        state = JSON.parse(result.returnValue?.json ?? 'null') as EntityState;
        this.hub.logger.debug('entity batch executed', { entity: fn.name, operations: batch.length, ms: Math.round(result.durationMs) });
      }
    }
    await client.query('UPDATE entities SET state = $2, entity_exists = $3, updated_at = now() WHERE entity_id = $1', [
      entity.entity_id, state.entityExists ? (state.entityState ?? null) : null, state.entityExists,
    ]);
    batch.forEach((op, index) => {
      if (op.signal || !op.parent || !op.id) return;
      const outcome = state.results[index];
      const response: Record<string, unknown> = { result: outcome?.result ?? null };
      if (outcome?.isError !== false) response.exceptionType = 'Error';
      outbox.inbox.push({
        instanceId: op.parent,
        executionId: op.parentExecution ?? null,
        event: historyEvent(EventType.EventRaised, { Name: op.id, Input: JSON.stringify(response) }),
      });
    });
    for (const signal of state.signals ?? []) {
      const message: Record<string, unknown> = { op: signal.name, signal: true, id: randomUUID() };
      if (signal.input) message.input = signal.input;
      outbox.entityMessages.push({ entityId: entitySchedulerId(signal.target.name, signal.target.key), message });
    }
  }
}
