/** Codes of problems that reject a whole file: the upload fails, and no row of it is ever activated. */
export type WholeFileErrorCode =
  | 'empty_file'
  | 'header_only'
  | 'no_header'
  | 'duplicate_column'
  | 'missing_column'
  | 'invalid_utf8'
  | 'nul_byte'
  | 'unterminated_quote'
  | 'line_too_long';

/** The file cannot be ingested at all; `line` is the physical line (1-based) when one is to blame. */
export class WholeFileError extends Error {
  override readonly name = 'WholeFileError';
  constructor(
    readonly code: WholeFileErrorCode,
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/** An infrastructure failure that may succeed when retried (connection lost, deadlock, server restarting). */
export class TransientError extends Error {
  override readonly name: string = 'TransientError';
}

/** Every global commit slot is taken: try again later; not a failure of the chunk. */
export class CommitSlotsBusyError extends TransientError {
  override readonly name = 'CommitSlotsBusyError';
}

/** An infrastructure failure that will fail again (missing table, permission, bug). */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
}

// SQLSTATEs worth a retry: connection exceptions (class 08), shutdown/crash recovery,
// serialization failure, deadlock, too many connections, out of resources, lock timeout.
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '40001', '40P01', '53000', '53100', '53200', '53300', '53400', '55P03', '58000']);
const TRANSIENT_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
// node-postgres reports a dropped socket by message only.
const TRANSIENT_MESSAGES = [/Connection terminated/i, /timeout exceeded when trying to connect/i, /Client has encountered a connection error/i];

/** True when retrying the operation that threw `error` can succeed. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (error instanceof PermanentError || error instanceof WholeFileError) return false;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^08/.test(code) || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_ERRNOS.has(code)) return true;
  }
  return TRANSIENT_MESSAGES.some((pattern) => pattern.test(error.message));
}

/**
 * Wraps an infrastructure error as Transient or Permanent with a message safe to log:
 * PostgreSQL puts row values in `detail`/`where` and in data-exception (class 22) messages, so those are dropped.
 */
export function classifyError(error: unknown, context: string): TransientError | PermanentError | WholeFileError {
  if (error instanceof TransientError || error instanceof PermanentError || error instanceof WholeFileError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  const sqlstate = typeof code === 'string' ? code : undefined;
  const raw = error instanceof Error ? error.message : String(error);
  const safe = sqlstate && /^2[23]/.test(sqlstate) ? 'data error (values withheld)' : raw;
  const message = `${context}: ${sqlstate ? `[${sqlstate}] ` : ''}${safe}`;
  return isTransient(error) ? new TransientError(message) : new PermanentError(message);
}
