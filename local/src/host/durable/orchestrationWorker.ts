import type pg from 'pg';
import { disabledReason, errorText, findFunction } from '../invoke.js';
import {
  completedTaskId, customStatusError, entityRequest, EventType, ExecutionHistory, historyEvent, MAX_ORCHESTRATION_ACTIONS, maxActionsMessage, timerEvents,
  type HistoryEvent,
} from './history.js';
import { notifyParent, releaseLocks, startInstance, InstanceExistsError, type InstanceRow } from './instances.js';
import { entitySchedulerId, Outbox } from './outbox.js';
import { orchestrationTriggerText, replayOutcome, type OrchestratorState } from './replay.js';
import { ActionType, activityInputText, allocationsOf, scheduledWork, type Allocation, type SdkAction } from './sequence.js';
import { inTransaction } from './store.js';
import type { TaskHub } from './hub.js';

/** DurableTask.AzureStorage moves queue messages over 45 KB to blobs. */
const LARGE_MESSAGE_CHARS = 45 * 1024;

/** Cached history of an instance's current execution, plus the JSON text of its (already played) events. */
interface CachedHistory {
  history: ExecutionHistory;
  playedJson: string[];
  /** Characters of history JSON, to warn once when an instance's history grows past ~1 MB. */
  chars: number;
  warned: boolean;
}

/** Every episode replays the whole history: past this size, split the work into sub-orchestrations. */
const LARGE_HISTORY_CHARS = 1024 * 1024;

/** Raised while scheduling an action the extension would reject; it fails the orchestration. */
class ScheduleError extends Error {}

/**
 * Runs orchestration episodes: one instance at a time per episode (row lock held for the episode), all
 * pending messages batched into one replay, the new actions scheduled and everything committed atomically.
 */
export class OrchestrationWorker {
  private readonly cache = new Map<string, CachedHistory>();
  /** Replay figures for benchmarks and diagnostics. */
  readonly stats = { episodes: 0, maxReplayMs: 0, maxReplayEvents: 0 };

  constructor(
    private readonly hub: TaskHub,
  ) {}

  /** Claims and runs one episode; false when no instance has due messages. */
  async step(): Promise<boolean> {
    let after: (() => void) | undefined;
    let claimed: string | undefined;
    try {
      const worked = await inTransaction(this.hub.pool, async (client) => {
        const { rows } = await client.query<InstanceRow>(
          `SELECT * FROM instances
           WHERE instance_id = ANY(ARRAY(SELECT DISTINCT instance_id FROM inbox WHERE visible_at <= now() LIMIT 64))
             AND status <> 'Suspended'
           LIMIT 1 FOR UPDATE SKIP LOCKED`,
        );
        const row = rows[0];
        if (!row) return false;
        claimed = row.instance_id;
        after = await this.runEpisode(client, row);
        return true;
      });
      after?.();
      return worked;
    } catch (error) {
      if (claimed) this.cache.delete(claimed);
      throw error;
    }
  }

  /** Milliseconds until the next durable timer is due (capped by the poll interval). */
  async nextDueMs(pollMs: number): Promise<number> {
    const { rows } = await this.hub.pool.query<{ ms: number | null }>(
      `SELECT (EXTRACT(EPOCH FROM min(visible_at) - now()) * 1000)::float8 AS ms FROM inbox WHERE visible_at > now()`,
    );
    const ms = rows[0]?.ms;
    return ms === null || ms === undefined ? pollMs : Math.min(pollMs, Math.max(5, Math.ceil(ms)));
  }

  forget(instanceId: string): void {
    this.cache.delete(instanceId);
  }

  private async runEpisode(client: pg.PoolClient, row: InstanceRow): Promise<() => void> {
    const { rows: messages } = await client.query<{ id: string; execution_id: string | null; event: string }>(
      'DELETE FROM inbox WHERE instance_id = $1 AND visible_at <= now() RETURNING id, execution_id, event',
      [row.instance_id],
    );
    messages.sort((a, b) => Number(a.id) - Number(b.id));
    const noop = () => {};
    if (row.status !== 'Pending' && row.status !== 'Running') return noop; // messages for ended instances are dropped
    const cached = await this.loadHistory(client, row);
    const { history } = cached;
    const accepted = this.acceptMessages(history, row, messages.map((m) => ({ executionId: m.execution_id, event: JSON.parse(m.event) as HistoryEvent })));
    if (accepted.length === 0) return noop;

    const now = new Date();
    const newEvents = [historyEvent(EventType.OrchestratorStarted, {}, -1, now), ...accepted];
    const outbox = new Outbox();
    const { state, failure, scheduled } = await this.replay(client, row, cached, newEvents, outbox, now);

    const appended = [...newEvents, ...scheduled, historyEvent(EventType.OrchestratorCompleted, {}, -1, now)];
    const continueAsNew = !failure && state?.isDone ? findContinueAsNew(state.actions) : undefined;
    let status = 'Running';
    let output: string | null = null;
    if (failure !== undefined) {
      status = 'Failed';
      output = JSON.stringify(`Orchestrator function '${row.name}' failed: ${failure}`);
      appended.push(historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: 3, Result: output }, -1, now));
      notifyParent(outbox, row, { reason: `Orchestrator function '${row.name}' failed: ${failure}`, details: JSON.stringify({ message: failure }) });
    } else if (continueAsNew) {
      status = 'ContinuedAsNew';
    } else if (state?.isDone) {
      status = 'Completed';
      output = JSON.stringify(state.output ?? null);
      appended.push(historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: 1, Result: output }, -1, now));
      notifyParent(outbox, row, { result: output });
    }

    if (continueAsNew) {
      const input = JSON.stringify(continueAsNew.input ?? null);
      await client.query('DELETE FROM history WHERE instance_id = $1', [row.instance_id]);
      await client.query(`UPDATE instances SET status = 'Completed' WHERE instance_id = $1`, [row.instance_id]);
      await startInstance(client, outbox, {
        name: row.name, instanceId: row.instance_id, input, carryOverEvents: true,
        parent: row.parent_instance_id && row.parent_execution_id && row.parent_task_id !== null
          ? { instanceId: row.parent_instance_id, executionId: row.parent_execution_id, taskId: row.parent_task_id }
          : undefined,
      });
      // startInstance reset created_at; a continued instance keeps its creation time.
      await client.query(`UPDATE instances SET status = 'Running', created_at = $2 WHERE instance_id = $1`, [row.instance_id, row.created_at]);
    } else {
      await this.appendHistory(client, row.instance_id, history.events.length, appended);
      await client.query('UPDATE instances SET status = $2, output = $3, updated_at = now() WHERE instance_id = $1', [row.instance_id, status, output]);
      if (status !== 'Running') {
        await client.query('DELETE FROM inbox WHERE instance_id = $1', [row.instance_id]);
        await releaseLocks(client, this.hub.schema, row.instance_id);
      }
    }
    await outbox.flush(client, this.hub.schema);

    this.logEpisode(row, { status, failure, events: history.events.length + appended.length, newActivities: outbox.activities.length });
    return () => {
      if (status !== 'Running') {
        this.cache.delete(row.instance_id);
        return;
      }
      history.append(appended);
      for (const event of appended) this.remember(cached, JSON.stringify({ ...event, IsPlayed: true }));
      if (!cached.warned && cached.chars > LARGE_HISTORY_CHARS) {
        cached.warned = true;
        this.hub.logger.warn('large orchestration history: every episode replays all of it; consider sub-orchestrations', {
          orchestration: row.name, instanceId: row.instance_id, events: history.events.length, chars: cached.chars,
        });
      }
    };
  }

  /**
   * Replays the orchestrator over its history and the new events, schedules the actions it took that are new, and
   * keeps its custom status; `failure` is why the orchestration fails (an unknown function, a throw, too many actions).
   */
  private async replay(
    client: pg.PoolClient, row: InstanceRow, cached: CachedHistory, newEvents: HistoryEvent[], outbox: Outbox, now: Date,
  ): Promise<{ state?: OrchestratorState; failure?: string; scheduled: HistoryEvent[] }> {
    const { history } = cached;
    const fn = findFunction(this.hub.registry, 'orchestrationTrigger', row.name);
    if (!fn) return { failure: `The function '${row.name}' doesn't exist, is disabled, or is not an orchestrator function.`, scheduled: [] };
    const scheduled: HistoryEvent[] = [];
    const trigger = this.triggerText(row, cached, newEvents);
    const result = await this.hub.invoker.invoke(fn, { trigger: { string: trigger } });
    this.stats.episodes++;
    if (result.durationMs > this.stats.maxReplayMs) {
      this.stats.maxReplayMs = result.durationMs;
      this.stats.maxReplayEvents = history.events.length + newEvents.length;
    }
    let { state, failure } = replayOutcome(result);
    const allocations = allocationsOf(result.context);
    const count = state ? countActions(state.actions) : 0;
    const mismatch = allocations && history.unreplayed(allocatedIds(allocations));
    if (count > MAX_ORCHESTRATION_ACTIONS) {
      failure = maxActionsMessage;
    } else if (mismatch) {
      // The replay no longer matches the history: fail without scheduling anything, as DTFx does.
      failure ??= mismatch;
    } else {
      // New actions are processed even when the orchestrator returned or threw (signals before a throw are delivered).
      try {
        for (const allocation of allocations ?? []) {
          if (history.scheduled.has(allocation.id)) continue;
          scheduled.push(...(await this.schedule(client, outbox, row, history, allocation, now)));
        }
      } catch (error) {
        if (!(error instanceof ScheduleError)) throw error;
        failure ??= error.message;
      }
    }
    if (!failure && state?.customStatus !== undefined) {
      const json = JSON.stringify(state.customStatus);
      const tooBig = customStatusError(json);
      if (tooBig) failure = tooBig;
      else await client.query('UPDATE instances SET custom_status = $2 WHERE instance_id = $1', [row.instance_id, json]);
    }
    return { state, failure, scheduled };
  }

  private logEpisode(row: InstanceRow, episode: { status: string; failure: string | undefined; events: number; newActivities: number }): void {
    const { status, failure, events, newActivities } = episode;
    if (newActivities >= 100) this.hub.logger.info('fan-out scheduled', { orchestration: row.name, instanceId: row.instance_id, activities: newActivities });
    if (status === 'Completed') {
      this.hub.logger.info('orchestration ended', { orchestration: row.name, instanceId: row.instance_id, status, events });
    } else if (status === 'Failed') {
      // As Core Tools logs it: the reason, which is also the instance's output (first line; stacks stay in history).
      this.hub.logger.error('orchestration failed', { orchestration: row.name, instanceId: row.instance_id, events, reason: failure!.split('\n')[0]!.slice(0, 1_000) });
    }
  }

  /** Drops what the extension drops: other executions' messages, duplicate or unknown completions, repeated starts. */
  private acceptMessages(history: ExecutionHistory, row: InstanceRow, messages: Array<{ executionId: string | null; event: HistoryEvent }>): HistoryEvent[] {
    const accepted: HistoryEvent[] = [];
    const answered = new Set<number>();
    const started = history.events.some((e) => e.EventType === EventType.ExecutionStarted);
    for (const { executionId, event } of messages) {
      if (executionId !== null && executionId !== row.execution_id) continue;
      if (event.EventType === EventType.ExecutionStarted) {
        if (started || accepted.some((e) => e.EventType === EventType.ExecutionStarted)) continue;
        accepted.unshift(event);
        continue;
      }
      const taskId = completedTaskId(event);
      if (taskId !== undefined) {
        if (!history.scheduled.has(taskId) || history.completed.has(taskId) || answered.has(taskId)) continue;
        answered.add(taskId);
      }
      accepted.push(event);
    }
    if (!started && accepted[0]?.EventType !== EventType.ExecutionStarted) return [];
    return accepted;
  }

  private async loadHistory(client: pg.PoolClient, row: InstanceRow): Promise<CachedHistory> {
    let cached = this.cache.get(row.instance_id);
    if (cached && cached.history.executionId !== row.execution_id) cached = undefined;
    const from = cached?.history.events.length ?? 0;
    const { rows } = await client.query<{ event: string }>('SELECT event FROM history WHERE instance_id = $1 AND seq >= $2 ORDER BY seq', [row.instance_id, from]);
    if (!cached) {
      cached = { history: new ExecutionHistory(row.execution_id), playedJson: [], chars: 0, warned: false };
      this.cache.set(row.instance_id, cached);
    }
    const events = rows.map((r) => ({ ...(JSON.parse(r.event) as HistoryEvent), IsPlayed: true }));
    cached.history.append(events);
    for (const event of events) this.remember(cached, JSON.stringify(event));
    return cached;
  }

  private remember(cached: CachedHistory, json: string): void {
    cached.playedJson.push(json);
    cached.chars += json.length;
  }

  private async appendHistory(client: pg.PoolClient, instanceId: string, firstSeq: number, events: HistoryEvent[]): Promise<void> {
    await client.query(
      'INSERT INTO history (instance_id, seq, event) SELECT $1, $2 + n - 1, e FROM unnest($3::text[]) WITH ORDINALITY AS t(e, n)',
      [instanceId, firstSeq, events.map((e) => JSON.stringify(e))],
    );
  }

  private triggerText(row: InstanceRow, cached: CachedHistory, newEvents: HistoryEvent[]): string {
    return orchestrationTriggerText({
      history: [...cached.playedJson, ...newEvents.map((e) => JSON.stringify(e))],
      input: row.input,
      instanceId: row.instance_id,
      parentInstanceId: row.parent_instance_id,
    });
  }

  /** Turns one id allocation into its scheduling event(s) and messages. */
  private async schedule(client: pg.PoolClient, outbox: Outbox, row: InstanceRow, history: ExecutionHistory, allocation: Allocation, now: Date): Promise<HistoryEvent[]> {
    const { id } = allocation;
    let work;
    try {
      work = scheduledWork(allocation);
    } catch (error) {
      throw new ScheduleError(errorText(error));
    }
    if (work.kind === 'fireAndForget') return this.scheduleFireAndForget(outbox, row, history, work.action, id, work.count, now);
    if (work.kind === 'retryTimer') return [this.timer(outbox, row, id, new Date(now.getTime() + work.delayMs), now)];
    const { action } = work;
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const name = action.functionName ?? '';
        const activity = findFunction(this.hub.registry, 'activityTrigger', name);
        if (!activity) {
          const additional = disabledReason(this.hub.registry, name) ?? 'the app registers no activity with that name';
          throw new ScheduleError(`The function '${name}' doesn't exist, is disabled, or is not an activity function. Additional info: ${additional}.`);
        }
        const input = activityInputText(action);
        if (input.length > LARGE_MESSAGE_CHARS) {
          // Azure Storage compresses such messages into blobs: it works, but slowly. Pass blob paths, not data.
          this.hub.logger.warn('large activity input', { instanceId: row.instance_id, activity: activity.name, taskId: id, chars: input.length });
        }
        outbox.activities.push({ instanceId: row.instance_id, executionId: row.execution_id, taskId: id, name: activity.name, input });
        return [historyEvent(EventType.TaskScheduled, { Name: activity.name, Version: '', Input: input }, id, now)];
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry:
        return [await this.startChild(client, outbox, row, action, id, now)];
      case ActionType.CreateTimer:
        return [this.timer(outbox, row, id, new Date(action.fireAt as string | Date), now)];
      case ActionType.CallEntity:
        return [this.sendToEntity(outbox, row, id, action, false, now)];
      case ActionType.LockEntities: {
        const lockSet = (action.lockSet ?? []).map((e: { name: string; key: string }) => entitySchedulerId(e.name, e.key));
        const message = { kind: 'lock', id: action.lockRequestId, lockSet, position: 0, parent: row.instance_id, parentExecution: row.execution_id };
        outbox.entityMessages.push({ entityId: lockSet[0] as string, message });
        return [historyEvent(EventType.EventSent, { InstanceId: lockSet[0], Name: 'op', Input: JSON.stringify(message) }, id, now)];
      }
      case ActionType.CallHttp:
        throw new ScheduleError('callHttp is not supported by the local host');
      default:
        throw new ScheduleError(`unsupported action type ${action.actionType}`);
    }
  }

  private scheduleFireAndForget(outbox: Outbox, row: InstanceRow, history: ExecutionHistory, action: SdkAction, id: number, count: number, now: Date): HistoryEvent[] {
    if (action.actionType === ActionType.SignalEntity) return [this.sendToEntity(outbox, row, id, action, true, now)];
    if (action.actionType === ActionType.ReleaseEntities) {
      const lock = [...history.events].reverse().find((e) => e.EventType === EventType.EventSent && typeof e.Input === 'string' && e.Input.includes('"kind":"lock"'));
      const lockSet = lock ? ((JSON.parse(lock.Input as string) as { lockSet: string[] }).lockSet) : [];
      return Array.from({ length: count }, (_, i) => {
        const entityId = lockSet[i] as string;
        const message = { kind: 'release', parent: row.instance_id };
        if (entityId) outbox.entityMessages.push({ entityId, message });
        return historyEvent(EventType.EventSent, { InstanceId: entityId ?? '', Name: 'release', Input: JSON.stringify(message) }, id + i, now);
      });
    }
    throw new ScheduleError(`unsupported fire-and-forget action type ${action.actionType}`);
  }

  private timer(outbox: Outbox, row: InstanceRow, id: number, fireAt: Date, now: Date): HistoryEvent {
    const { created, fired } = timerEvents(id, fireAt, now);
    outbox.inbox.push({ instanceId: row.instance_id, executionId: row.execution_id, event: fired, visibleAt: fireAt });
    return created;
  }

  /** EventSent carrying the extension's RequestMessage; the SDK re-keys entity calls to its `id`. */
  private sendToEntity(outbox: Outbox, row: InstanceRow, id: number, action: SdkAction, signal: boolean, now: Date): HistoryEvent {
    const { target, message, event } = entityRequest(action, { instanceId: row.instance_id, executionId: row.execution_id }, signal, id, now);
    outbox.entityMessages.push({ entityId: target, message });
    return event;
  }

  private async startChild(client: pg.PoolClient, outbox: Outbox, row: InstanceRow, action: SdkAction, id: number, now: Date): Promise<HistoryEvent> {
    const name = action.functionName ?? '';
    const child = findFunction(this.hub.registry, 'orchestrationTrigger', name);
    if (!child) throw new ScheduleError(`The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`);
    const instanceId = action.instanceId || `${row.instance_id}:${id}`;
    const input = action.input === undefined ? null : JSON.stringify(action.input);
    try {
      await startInstance(client, outbox, { name: child.name, instanceId, input, parent: { instanceId: row.instance_id, executionId: row.execution_id, taskId: id } });
    } catch (error) {
      if (!(error instanceof InstanceExistsError)) throw error;
      outbox.inbox.push({
        instanceId: row.instance_id, executionId: row.execution_id,
        event: historyEvent(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: id, Reason: error.message, Details: JSON.stringify({ message: error.message }) }),
      });
    }
    return historyEvent(EventType.SubOrchestrationInstanceCreated, { Name: child.name, InstanceId: instanceId, Input: input, Version: '' }, id, now);
  }
}

function allocatedIds(allocations: Allocation[]): Set<number> {
  const ids = new Set<number>();
  for (const { id, count } of allocations) for (let i = 0; i < count; i++) ids.add(id + i);
  return ids;
}

function countActions(actions: SdkAction[][]): number {
  let count = 0;
  const walk = (list: SdkAction[]) => {
    for (const action of list) {
      if (Array.isArray(action.compoundActions)) walk(action.compoundActions as SdkAction[]);
      else count++;
    }
  };
  for (const list of actions) walk(list);
  return count;
}

function findContinueAsNew(actions: SdkAction[][]): SdkAction | undefined {
  return actions.flat().find((a) => a.actionType === ActionType.ContinueAsNew);
}

