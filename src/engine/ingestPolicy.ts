/**
 * How an upload is received, cut, committed and retried, in one place: the defaults of the INGEST_* and
 * UPLOAD_* settings (src/adapters/settings.ts takes them from here) and the fixed limits beside them.
 */

/** Largest file the upload API accepts (UPLOAD_MAX_BYTES). */
export const DEFAULT_UPLOAD_MAX_BYTES = 4 * 1024 ** 3;
/**
 * Parts of a resumable upload, and the largest single PUT (UPLOAD_PART_BYTES): every request stays far below the
 * 210 MB Azure Functions accepts and ends well within its 230 s.
 */
export const DEFAULT_UPLOAD_PART_BYTES = 64 * 1024 ** 2;
export const MIN_UPLOAD_PART_BYTES = 64 * 1024;
export const MAX_UPLOAD_PART_BYTES = 100 * 1024 ** 2;
/** Hours a resumable upload may go without a request before housekeeping ends it (UPLOAD_ABANDON_HOURS). */
export const DEFAULT_UPLOAD_ABANDON_HOURS = 24;
/** Parts one caller may send per minute, a budget of their own (UPLOAD_PARTS_PER_MINUTE). */
export const DEFAULT_UPLOAD_PARTS_PER_MINUTE = 240;

/** Target size of one chunk (INGEST_CHUNK_BYTES); chunks are cut at record boundaries. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
/**
 * Target of the first chunk, when smaller than the target: it commits while the plan scans the rest, so the first rows
 * are in (and the upload's status shows progress) after about 1 MiB rather than a whole chunk.
 */
export const FIRST_CHUNK_BYTES = 1024 * 1024;
/** Longest record; a longer one is a whole-file error (the file is not a CSV of participants). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** Chunks one ingestion commits at once: its orchestrator's wave width (INGEST_MAX_CHUNKS_IN_FLIGHT). */
export const DEFAULT_MAX_CHUNKS_IN_FLIGHT = 8;
/** Chunk commits at once across every upload and instance, held by PostgreSQL (INGEST_MAX_CONCURRENT_COMMITS). */
export const DEFAULT_MAX_CONCURRENT_COMMITS = 16;
/** Row errors stored per upload; counts stay exact beyond it (INGEST_MAX_ERROR_ROWS). */
export const DEFAULT_MAX_ERROR_ROWS = 10_000;
/** Share of rejected rows above which an upload is not activated (INGEST_MAX_REJECTED_SHARE). */
export const DEFAULT_MAX_REJECTED_SHARE = 0.05;

/** Chunks committed per block (a sub-orchestration of a large upload), so no one history grows with the file. */
export const CHUNKS_PER_SUB_ORCHESTRATION = 500;

/** Attempts per chunk for classified transient failures (connection reset, failover, too many connections...). */
export const MAX_TRANSIENT_ATTEMPTS = 8;
const FIRST_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 60_000;
/** Wait before retrying chunks that found every global commit slot taken. */
const BUSY_BACKOFF_MS = 1_000;

/**
 * The durable-timer wait before a wave retries chunks, from the highest attempt among them: attempt 1 (only
 * busy chunks, which use up no attempts) waits briefly; transient failures back off exponentially, capped.
 */
export function chunkRetryDelayMs(worstAttempt: number): number {
  return worstAttempt <= 1 ? BUSY_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (worstAttempt - 2));
}
