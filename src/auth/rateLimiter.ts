import type pg from 'pg';

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export type RateLimit = (callerId: string) => Promise<RateDecision>;

export interface RateLimitOptions {
  /** Requests a caller may make per window. */
  readonly limit: number;
  readonly windowMs?: number;
}

/**
 * Per-caller request limit held in PostgreSQL, so it holds across every scaled-out app instance. A caller's window
 * opens at its first request and lasts `windowMs` (one minute): the first `limit` requests in it pass, later ones
 * are refused until it ends, and Retry-After says when that is. One upsert per request; its row lock serialises a
 * caller's own concurrent requests only.
 */
export function createRateLimiter(pool: pg.Pool, options: RateLimitOptions): RateLimit {
  const windowMs = options.windowMs ?? 60_000;
  return async (callerId) => {
    const { rows } = await pool.query<{ requests: number; retry_after_ms: number }>(
      `INSERT INTO bulkflow.api_rate_limits AS r (caller, window_start, requests) VALUES ($1, now(), 1)
       ON CONFLICT (caller) DO UPDATE SET
         requests = CASE WHEN r.window_start <= now() - make_interval(secs => $2 / 1000.0) THEN 1
                         ELSE least(r.requests + 1, 2147483647) END,
         window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $2 / 1000.0) THEN now()
                             ELSE r.window_start END
       RETURNING requests, extract(epoch FROM (window_start + make_interval(secs => $2 / 1000.0) - now())) * 1000 AS retry_after_ms`,
      [callerId, windowMs],
    );
    const row = rows[0]!;
    if (row.requests <= options.limit) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Number(row.retry_after_ms) / 1000)) };
  };
}

/**
 * Deletes the counters of callers whose window started over `olderThanMs` ago (an ended window decides nothing), so
 * the table holds recent callers only. Returns how many were deleted.
 */
export async function purgeRateLimits(pool: pg.Pool, olderThanMs: number): Promise<number> {
  const { rowCount } = await pool.query(
    'DELETE FROM bulkflow.api_rate_limits WHERE window_start < now() - make_interval(secs => $1 / 1000.0)',
    [olderThanMs],
  );
  return rowCount ?? 0;
}
