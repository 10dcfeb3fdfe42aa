import type pg from 'pg';

/** What the operators' alerts watch that only the database knows (ids and ages only). */
export interface OpsSignals {
  /** Uploads still pending or running whose last step (registration, plan, a chunk commit) is older than the limit. */
  readonly stalledUploads: Array<{ uploadId: string; state: string; idleMinutes: number }>;
  /** Outbox events not yet delivered to Event Hubs, and the age of the oldest. */
  readonly outboxPending: number;
  readonly outboxOldestMinutes: number | null;
  /** Active, complete uploads the match analysis has not run for, although they completed over the limit ago. */
  readonly unmatchedUploads: Array<{ uploadId: string; state: string; minutes: number }>;
}

export interface OpsSignalLimits {
  readonly stalledAfterMinutes: number;
  readonly unmatchedAfterMinutes: number;
}

/** Reads the signals in one round trip; each list is capped at 20 (an alert needs to fire, not to list everything). */
export async function readOpsSignals(pool: pg.Pool, limits: OpsSignalLimits): Promise<OpsSignals> {
  const { rows } = await pool.query<{ stalled: OpsSignals['stalledUploads']; pending: number; oldest: number | null; unmatched: OpsSignals['unmatchedUploads'] }>(
    `SELECT
       (SELECT coalesce(jsonb_agg(s), '[]') FROM (
          SELECT u.upload_id AS "uploadId", u.state, floor(extract(epoch FROM now() - p.last) / 60)::int AS "idleMinutes"
            FROM bulkflow.uploads u
            CROSS JOIN LATERAL (SELECT greatest(u.registered_at, u.planned_at,
                                  (SELECT max(l.committed_at) FROM bulkflow.chunk_ledger l WHERE l.upload_id = u.upload_id)) AS last) p
           WHERE u.status IN ('pending', 'running') AND p.last < now() - make_interval(mins => $1)
           ORDER BY p.last LIMIT 20) s) AS stalled,
       (SELECT count(*)::int FROM bulkflow.outbox WHERE published_at IS NULL) AS pending,
       (SELECT floor(extract(epoch FROM now() - min(time)) / 60)::int FROM bulkflow.outbox WHERE published_at IS NULL) AS oldest,
       (SELECT coalesce(jsonb_agg(m), '[]') FROM (
          SELECT u.upload_id AS "uploadId", u.state, floor(extract(epoch FROM now() - u.completed_at) / 60)::int AS minutes
            FROM bulkflow.active_uploads a JOIN bulkflow.uploads u USING (upload_id)
           WHERE u.completed_at < now() - make_interval(mins => $2)
             AND NOT EXISTS (SELECT 1 FROM bulkflow.match_runs r WHERE r.upload_id = u.upload_id)
           ORDER BY u.completed_at LIMIT 20) m) AS unmatched`,
    [limits.stalledAfterMinutes, limits.unmatchedAfterMinutes],
  );
  const row = rows[0]!;
  return { stalledUploads: row.stalled, outboxPending: row.pending, outboxOldestMinutes: row.oldest, unmatchedUploads: row.unmatched };
}

/**
 * The log lines the alerts query (infra/bicep/modules/alerts.bicep). Each starts with a fixed prefix the alert
 * matches on; test/infra/alerts.test.ts fails if an alert names a prefix that is not here.
 */
export const OPS_LOG = {
  uploadFailed: 'upload failed:',
  uploadStalled: 'upload stalled:',
  outboxBehind: 'outbox behind:',
  matchAnalysisBehind: 'match analysis behind:',
} as const;

/** The warning lines for the signals that are out of bounds (none when all is well: logs stay quiet). */
export function opsWarnings(signals: OpsSignals, outboxLimitMinutes: number): string[] {
  return [
    ...signals.stalledUploads.map((u) => `${OPS_LOG.uploadStalled} upload=${u.uploadId} state=${u.state} idle_minutes=${u.idleMinutes}`),
    ...(signals.outboxOldestMinutes !== null && signals.outboxOldestMinutes >= outboxLimitMinutes
      ? [`${OPS_LOG.outboxBehind} pending=${signals.outboxPending} oldest_minutes=${signals.outboxOldestMinutes}`]
      : []),
    ...signals.unmatchedUploads.map((u) => `${OPS_LOG.matchAnalysisBehind} upload=${u.uploadId} state=${u.state} minutes=${u.minutes}`),
  ];
}
