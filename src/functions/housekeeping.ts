import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { cleanupUploads } from '../engine/index.js';
import { purgeClosedMatches } from '../engine/matchRecords.js';
import type { AppClients } from '../composition.js';

const HOUR_MS = 3_600_000;

/**
 * Drops superseded and failed uploads after retention, deletes match records closed longer than their retention, and
 * purges old finished orchestration histories.
 */
export function makeHousekeeping({ db, settings }: Pick<AppClients, 'db' | 'settings'>) {
  return async function housekeeping(_timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
    const { cleanupRetentionHours, matchClosedRetentionDays, durableHistoryRetentionDays } = settings();
    const pool = await db();
    const cleaned = await cleanupUploads(pool, { retentionMs: cleanupRetentionHours * HOUR_MS });
    const matchesPurged = await purgeClosedMatches(pool, { retentionMs: matchClosedRetentionDays * 24 * HOUR_MS });
    const purged = await client.purgeInstanceHistoryBy({
      createdTimeFrom: new Date(0),
      createdTimeTo: new Date(Date.now() - durableHistoryRetentionDays * 24 * HOUR_MS),
      runtimeStatus: [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated],
    });
    context.log(
      `housekeeping: ${cleaned.cleaned.length} upload(s) cleaned, ${cleaned.skipped.length} deferred; ${matchesPurged} closed match record(s) ` +
        `deleted; ${purged.instancesDeleted} orchestration histories purged`,
    );
  };
}
