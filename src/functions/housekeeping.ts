import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { purgeRateLimits } from '../auth/rateLimiter.js';
import { cleanupUploads, purgeAuditRecords, purgeClosedMatches, purgeOutbox, sweepUploadBlobs } from '../engine/index.js';
import { uploadBlobRemover } from '../adapters/uploadBlobRemover.js';
import type { AppClients } from '../composition.js';
import { expireAbandonedSessions, uploadSessionDeps } from './uploadSessions.js';

const HOUR_MS = 3_600_000;
/** Rate-limit windows last a minute; a counter an hour old only names a caller. */
const RATE_LIMIT_KEEP_MS = HOUR_MS;

/**
 * Drops superseded and failed uploads after retention, deletes uploaded files that are due (kept for
 * UPLOAD_BLOB_RETENTION_HOURS, or whose deletion at final failed), deletes match records closed longer than their
 * retention, ends resumable uploads idle for UPLOAD_ABANDON_HOURS and deletes their staged parts, purges delivered
 * outbox events, callers' rate-limit counters an hour old, audit records older than AUDIT_RETENTION_DAYS and old
 * finished orchestration histories.
 */
export function makeHousekeeping({ db, settings, uploadStorage }: Pick<AppClients, 'db' | 'settings' | 'uploadStorage'>) {
  return async function housekeeping(_timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
    const { cleanupRetentionHours, uploadBlobRetentionHours, matchClosedRetentionDays, outboxRetentionDays, auditRetentionDays, durableHistoryRetentionDays } = settings();
    const pool = await db();
    const cleaned = await cleanupUploads(pool, { retentionMs: cleanupRetentionHours * HOUR_MS });
    const files = await sweepUploadBlobs(pool, uploadBlobRemover(uploadStorage()), { retentionMs: uploadBlobRetentionHours * HOUR_MS });
    const abandoned = await expireAbandonedSessions(uploadSessionDeps({ db, settings, uploadStorage }), context);
    const matchesPurged = await purgeClosedMatches(pool, { retentionMs: matchClosedRetentionDays * 24 * HOUR_MS });
    const events = await purgeOutbox(pool, outboxRetentionDays * 24 * HOUR_MS);
    const callers = await purgeRateLimits(pool, RATE_LIMIT_KEEP_MS);
    const audited = await purgeAuditRecords(pool, auditRetentionDays);
    const purged = await client.purgeInstanceHistoryBy({
      createdTimeFrom: new Date(0),
      createdTimeTo: new Date(Date.now() - durableHistoryRetentionDays * 24 * HOUR_MS),
      runtimeStatus: [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated],
    });
    context.log(
      `housekeeping: ${cleaned.cleaned.length} upload(s) cleaned, ${cleaned.skipped.length} deferred; ${files.removed} uploaded file(s) deleted, ` +
        `${files.failed} to retry; ${abandoned} abandoned upload(s) ended; ${matchesPurged} closed match record(s) deleted; ${events} outbox event(s), ` +
        `${callers} caller rate-limit counter(s), ${audited} audit record(s) and ${purged.instancesDeleted} orchestration histories purged`,
    );
    if (files.failed > 0) context.warn(`housekeeping: ${files.failed} uploaded file(s) could not be deleted; retrying next run`);
  };
}

