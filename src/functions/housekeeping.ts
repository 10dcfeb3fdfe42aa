import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { cleanupUploads } from '../engine/index.js';
import { appSettings, db } from '../adapters/runtime.js';

const HOUR_MS = 3_600_000;

/** Drops superseded and failed uploads after retention, and purges old finished orchestration histories. */
export async function housekeeping(_timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const settings = appSettings();
  const cleaned = await cleanupUploads(await db(), { retentionMs: settings.cleanupRetentionHours * HOUR_MS });
  const purged = await client.purgeInstanceHistoryBy({
    createdTimeFrom: new Date(0),
    createdTimeTo: new Date(Date.now() - settings.durableHistoryRetentionDays * 24 * HOUR_MS),
    runtimeStatus: [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated],
  });
  context.log(`housekeeping: ${cleaned.cleaned.length} upload(s) cleaned, ${cleaned.skipped.length} deferred; ${purged.instancesDeleted} orchestration histories purged`);
}
