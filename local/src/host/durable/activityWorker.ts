import { randomUUID } from 'node:crypto';
import { errorText, findFunction } from '../invoke.js';
import type { RpcTypedData } from '../registry.js';
import { Semaphore } from '../workerLoop.js';
import { activityFailed, EventType, historyEvent } from './history.js';
import { notifySql } from './store.js';
import type { TaskHub } from './hub.js';

interface ActivityItem {
  id: string;
  instance_id: string;
  execution_id: string;
  task_id: number;
  name: string;
  input: string;
}

/** Wait before writing completions again after the store refused them (e.g. PostgreSQL restarting). */
const RETRY_WRITE_MS = 1_000;

/**
 * Runs activity work items, at least once: items are leased (renewed while this host lives), so the items
 * of a killed host run again after the lease expires. Completions are written in batches: the work item is
 * deleted and its TaskCompleted/TaskFailed message inserted in one statement, only if this host still owns it.
 */
export class ActivityWorker {
  readonly owner = randomUUID();
  private readonly slots: Semaphore;
  private readonly running = new Set<Promise<void>>();
  private pending: Array<{ id: string; event: string }> = [];
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  executed = 0;
  failed = 0;

  constructor(
    private readonly hub: TaskHub,
    concurrency: number,
    private readonly leaseMs: number,
  ) {
    this.slots = new Semaphore(concurrency);
  }

  startLeaseRenewal(): void {
    this.renewTimer = setInterval(() => {
      this.hub.pool
        .query(`UPDATE activity_queue SET locked_until = now() + make_interval(secs => $2) WHERE locked_by = $1`, [this.owner, this.leaseMs / 1000])
        .catch((error: unknown) => this.hub.logger.warn('activity lease renewal failed', { error: errorText(error) }));
    }, Math.max(200, this.leaseMs / 3));
    this.renewTimer.unref();
  }

  /** Claims as many items as there are free slots and starts them; false when nothing was claimed. */
  async step(): Promise<boolean> {
    const free = this.slots.free;
    if (free <= 0) {
      await Promise.race(this.running);
      return true;
    }
    const { rows } = await this.hub.pool.query<ActivityItem>(
      `UPDATE activity_queue SET locked_by = $1, locked_until = now() + make_interval(secs => $3)
       WHERE id IN (SELECT id FROM activity_queue WHERE locked_until IS NULL OR locked_until < now()
                    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id, instance_id, execution_id, task_id, name, input`,
      [this.owner, free, this.leaseMs / 1000],
    );
    for (const item of rows) {
      await this.slots.acquire();
      const run = this.run(item).finally(() => {
        this.slots.release();
        this.running.delete(run);
      });
      this.running.add(run);
    }
    return rows.length > 0;
  }

  /** Waits for running activities and writes their completions. */
  async drain(): Promise<void> {
    clearInterval(this.renewTimer);
    await Promise.all(this.running);
    await this.flush();
  }

  private async run(item: ActivityItem): Promise<void> {
    const fn = findFunction(this.hub.registry, 'activityTrigger', item.name);
    let event;
    if (!fn) {
      event = historyEvent(EventType.TaskFailed, {
        TaskScheduledId: item.task_id, Reason: `The function '${item.name}' doesn't exist, is disabled, or is not an activity function.`, Details: '{}',
      });
    } else {
      const result = await this.hub.invoker.invoke(fn, {
        trigger: { string: item.input },
        triggerMetadata: { instanceId: { json: JSON.stringify(item.instance_id) } },
      });
      if (result.error !== undefined) {
        this.failed++;
        event = activityFailed(item.task_id, fn.name, result.error);
        this.hub.logger.warn('activity failed', { activity: fn.name, instanceId: item.instance_id, taskId: item.task_id, error: errorText(result.error) });
      } else {
        this.executed++;
        event = historyEvent(EventType.TaskCompleted, { TaskScheduledId: item.task_id, Result: resultJson(result.returnValue) });
        this.hub.logger.debug('activity executed', { activity: fn.name, instanceId: item.instance_id, taskId: item.task_id, ms: Math.round(result.durationMs) });
      }
    }
    this.pending.push({ id: item.id, event: JSON.stringify(event) });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.pending.length >= 200) {
      void this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, 5);
  }

  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.write(batch).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async write(batch: Array<{ id: string; event: string }>): Promise<void> {
    try {
      await this.hub.pool.query(
        `WITH done AS (
           DELETE FROM activity_queue q USING unnest($1::bigint[], $2::text[]) AS c(id, event)
           WHERE q.id = c.id AND q.locked_by = $3
           RETURNING q.instance_id, q.execution_id, c.event, c.id)
         INSERT INTO inbox (instance_id, execution_id, event) SELECT instance_id, execution_id, event FROM done ORDER BY id`,
        [batch.map((b) => b.id), batch.map((b) => b.event), this.owner],
      );
      await this.hub.pool.query(notifySql(this.hub.schema, 'orchestrations'));
    } catch (error) {
      // Kept and written again: this host goes on renewing their leases, so they would never run again (seen:
      // an upload stuck for good after a PostgreSQL restart). The write only lands for items this host still owns.
      this.hub.logger.error('writing activity completions failed', { count: batch.length, error: errorText(error) });
      this.pending.unshift(...batch);
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, RETRY_WRITE_MS);
      this.flushTimer.unref();
    }
  }
}

/** The extension stores the activity's return value as JSON text; `undefined` becomes null. */
function resultJson(value: RpcTypedData | undefined): string {
  if (!value) return 'null';
  if (value.json !== undefined) return value.json;
  if (value.string !== undefined) return JSON.stringify(value.string);
  if (value.int !== undefined) return JSON.stringify(Number(value.int));
  if (value.double !== undefined) return JSON.stringify(Number(value.double));
  if (value.bytes !== undefined) return JSON.stringify(Buffer.from(value.bytes).toString('base64'));
  return 'null';
}
