import type { InvocationContext } from '@azure/functions';
import type pg from 'pg';
import { opsWarnings, readOpsSignals } from '../engine/index.js';

/** An upload with no step for this long is stuck (a chunk commit takes seconds; the longest retry waits 30 s). */
export const STALLED_AFTER_MINUTES = 30;
/** The oldest undelivered outbox event may be this old before operators hear of it (the sweeper runs every 30 s). */
export const OUTBOX_BEHIND_MINUTES = 10;
/** A completed active upload without a match run this long after completing means the analysis is behind. */
export const UNMATCHED_AFTER_MINUTES = 15;

/** The sweeper's ticks (every 30 s) that also probe: the first of every fifth minute. */
export const isProbeTick = (now: Date): boolean => now.getUTCMinutes() % 5 === 0 && now.getUTCSeconds() < 30;

/**
 * Turns what only the database knows into the warnings the alerts query: stuck uploads, an outbox that does not
 * drain, match analysis behind. Nothing is logged while all is well. It runs on the outbox sweeper's timer (every
 * five minutes) rather than a timer of its own: each timer is one more instance in the database connection budget.
 */
export async function probeOperations(pool: pg.Pool, context: InvocationContext): Promise<void> {
  const signals = await readOpsSignals(pool, { stalledAfterMinutes: STALLED_AFTER_MINUTES, unmatchedAfterMinutes: UNMATCHED_AFTER_MINUTES });
  for (const line of opsWarnings(signals, OUTBOX_BEHIND_MINUTES)) context.warn(line);
}
