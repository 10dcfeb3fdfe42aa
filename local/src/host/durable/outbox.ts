import type pg from 'pg';
import type { HistoryEvent } from './history.js';
import { notifySql, type Channel } from './store.js';

export interface InboxMessage {
  instanceId: string;
  /** NULL targets whichever execution is current when the message is processed. */
  executionId: string | null;
  event: HistoryEvent;
  visibleAt?: Date;
}

export interface ActivityWork {
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  /** The activity input as the extension hands it to the worker: a string (JSON text for non-strings). */
  input: string;
}

export interface EntityMessage {
  entityId: string;
  /** RequestMessage JSON (op/signal/input/id/parent/parentExecution) or a host lock/release request. */
  message: Record<string, unknown>;
}

/** Messages produced inside one transaction, written with one multi-row statement per table. */
export class Outbox {
  readonly inbox: InboxMessage[] = [];
  readonly activities: ActivityWork[] = [];
  readonly entityMessages: EntityMessage[] = [];

  get empty(): boolean {
    return this.inbox.length + this.activities.length + this.entityMessages.length === 0;
  }

  async flush(client: pg.PoolClient, schema: string): Promise<void> {
    const channels = new Set<Channel>();
    if (this.inbox.length) {
      await client.query(
        `INSERT INTO inbox (instance_id, execution_id, event, visible_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])`,
        [
          this.inbox.map((m) => m.instanceId),
          this.inbox.map((m) => m.executionId),
          this.inbox.map((m) => JSON.stringify(m.event)),
          this.inbox.map((m) => (m.visibleAt ?? new Date(0)).toISOString()),
        ],
      );
      channels.add('orchestrations');
    }
    if (this.activities.length) {
      await client.query(
        `INSERT INTO activity_queue (instance_id, execution_id, task_id, name, input)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[])`,
        [
          this.activities.map((a) => a.instanceId),
          this.activities.map((a) => a.executionId),
          this.activities.map((a) => a.taskId),
          this.activities.map((a) => a.name),
          this.activities.map((a) => a.input),
        ],
      );
      channels.add('activities');
    }
    if (this.entityMessages.length) {
      const ids = this.entityMessages.map((m) => m.entityId);
      await client.query(
        `INSERT INTO entities (entity_id, name, key)
         SELECT DISTINCT id, split_part(substr(id, 2), '@', 1), substr(id, strpos(substr(id, 2), '@') + 2) FROM unnest($1::text[]) AS t(id)
         ON CONFLICT (entity_id) DO NOTHING`,
        [ids],
      );
      await client.query(`INSERT INTO entity_queue (entity_id, message) SELECT * FROM unnest($1::text[], $2::text[])`, [
        ids,
        this.entityMessages.map((m) => JSON.stringify(m.message)),
      ]);
      channels.add('entities');
    }
    for (const channel of channels) await client.query(notifySql(schema, channel));
  }
}

/** `@name@key` with the name lowercased, as `EntityId.getSchedulerIdFromEntityId` and the C# EntityId do. */
export function entitySchedulerId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}

export function parseSchedulerId(id: string): { name: string; key: string } {
  const at = id.indexOf('@', 1);
  return { name: id.slice(1, at), key: id.slice(at + 1) };
}
