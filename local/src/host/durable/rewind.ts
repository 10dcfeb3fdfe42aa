import type pg from 'pg';
import { EVENT_NAMES, EventType, historyEvent, type HistoryEvent } from './history.js';
import type { InstanceRow } from './instances.js';
import type { Outbox } from './outbox.js';

export class RewindRefusedError extends Error {
  constructor(readonly status: 404 | 410 | 500, message: string) {
    super(message);
  }
}

/**
 * Rewinds a failed instance as DurableTask.AzureStorage does (`AzureTableTrackingStore.RewindHistoryAsync`): in
 * the current execution, every failure (TaskFailed, SubOrchestrationInstanceFailed, the failed ExecutionCompleted)
 * and the TaskScheduled each TaskFailed answers become GenericEvents the replay skips, so the failed calls are
 * scheduled again under their old ids. A failed sub-orchestration keeps its SubOrchestrationInstanceCreated and is
 * rewound in turn. Each rewound instance goes back to Pending, and the deepest failed instances receive a
 * GenericEvent message that starts the replay; parents resume when their children complete.
 *
 * As on Azure, only failures are removed: retry timers and calls scheduled after a failure stay, and the replay
 * then no longer matches the history (the extension's "Non-Deterministic workflow detected": rewind suits a
 * failure that was the orchestration's last step; Azure/azure-functions-durable-extension#617, #444).
 *
 * Runs under the instance rows' locks, so a repeated or concurrent rewind finds the instance Pending and is refused.
 */
export async function rewindInstance(client: pg.PoolClient, outbox: Outbox, instanceId: string, reason: string): Promise<string[]> {
  const row = await lockInstance(client, instanceId);
  if (!row) throw new RewindRefusedError(404, `No instance with ID '${instanceId}' found.`);
  if (['Completed', 'Terminated', 'Canceled'].includes(row.status)) throw new RewindRefusedError(410, `Instance '${instanceId}' is ${row.status}.`);
  // The extension's DurableClient.RewindAsync throws InvalidOperationException, which its HTTP handler answers 500.
  if (row.status !== 'Failed') throw new RewindRefusedError(500, 'The rewind operation is only supported on failed orchestration instances.');
  const rewound: string[] = [];
  const leaves = await rewindHistory(client, row, rewound);
  for (const leaf of leaves) {
    outbox.inbox.push({ instanceId: leaf, executionId: null, event: historyEvent(EventType.GenericEvent, { Data: reason }) });
  }
  return rewound;
}

async function lockInstance(client: pg.PoolClient, instanceId: string): Promise<InstanceRow | undefined> {
  const { rows } = await client.query<InstanceRow>('SELECT * FROM instances WHERE instance_id = $1 FOR UPDATE', [instanceId]);
  return rows[0];
}

/** Clears one instance's failures, recursing into failed sub-orchestrations; returns the instances to wake. */
async function rewindHistory(client: pg.PoolClient, row: InstanceRow, rewound: string[]): Promise<string[]> {
  const { rows } = await client.query<{ seq: number; event: string }>('SELECT seq, event FROM history WHERE instance_id = $1 ORDER BY seq', [row.instance_id]);
  const events = rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.event) as HistoryEvent }));
  const scheduling = (type: number, id: unknown) => events.find((e) => e.event.EventType === type && e.event.EventId === id);
  const replaced = new Map<number, HistoryEvent>();
  const leaves: string[] = [];
  let failedChildren = false;
  for (const { seq, event } of events) {
    const type = event.EventType;
    const failedExecution = type === EventType.ExecutionCompleted && (event.OrchestrationStatus === 3 || event.OrchestrationStatus === 'Failed');
    if (type !== EventType.TaskFailed && type !== EventType.SubOrchestrationInstanceFailed && !failedExecution) continue;
    if (type === EventType.TaskFailed) {
      const scheduled = scheduling(EventType.TaskScheduled, event.TaskScheduledId);
      if (scheduled) replaced.set(scheduled.seq, rewoundEvent(scheduled.event));
    } else if (type === EventType.SubOrchestrationInstanceFailed) {
      const created = scheduling(EventType.SubOrchestrationInstanceCreated, event.TaskScheduledId);
      if (created) {
        failedChildren = true;
        // The child is still healthy as created; Azure Storage only notes the rewind on it.
        replaced.set(created.seq, { ...created.event, Reason: `Rewound: ${EVENT_NAMES[EventType.SubOrchestrationInstanceCreated]}` });
        const child = await lockInstance(client, created.event.InstanceId as string);
        if (child) leaves.push(...(await rewindHistory(client, child, rewound)));
      }
    }
    replaced.set(seq, rewoundEvent(event));
  }
  for (const [seq, event] of replaced) {
    await client.query('UPDATE history SET event = $3 WHERE instance_id = $1 AND seq = $2', [row.instance_id, seq, JSON.stringify(event)]);
  }
  await client.query(`UPDATE instances SET status = 'Pending', updated_at = now() WHERE instance_id = $1`, [row.instance_id]);
  rewound.push(row.instance_id);
  return failedChildren ? leaves : [row.instance_id];
}

/** The event as a GenericEvent: the replay skips it, its place (and id) in the history stays. */
function rewoundEvent(event: HistoryEvent): HistoryEvent {
  return { EventType: EventType.GenericEvent, EventId: event.EventId, IsPlayed: event.IsPlayed, Timestamp: event.Timestamp, Data: `Rewound: ${EVENT_NAMES[event.EventType] ?? event.EventType}` };
}
