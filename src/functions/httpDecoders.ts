import { z } from 'zod';
import { JURISDICTION_RULE, JURISDICTIONS, UPLOAD_OR_INSTANCE_ID, uploadIdOfInstance, type UploadRef } from '../engine/index.js';

/**
 * The decoders of the HTTP API's path and query parameters, one per kind of value. A route's row in httpRoutes.ts
 * names them; the edge (accessGuard.ts) decodes every request with them before any handler or query runs, so a
 * value no upload, state or cursor can have (a NUL byte, a number out of range, a 10 kB string) is refused at the
 * door with a problem detail instead of reaching PostgreSQL. Each message names its parameter.
 */

const CONTROL = /[\u0000-\u001f\u007f]/;

/** `{state}`: a jurisdiction the program serves, in either case; decoded upper case. */
export const stateParam = z
  .string()
  .toUpperCase()
  .pipe(z.enum(JURISDICTIONS, { error: `state must be ${JURISDICTION_RULE}` }))
  .meta({ description: `A jurisdiction: ${JURISDICTION_RULE}, in either case.`, example: 'CA' });

/** `{uploadId}`: an upload id (`ca-…`) or its orchestration's instance id (`ingest-ca-…`); decoded to the upload. */
export const uploadIdParam = z
  .string()
  .regex(UPLOAD_OR_INSTANCE_ID, { error: 'uploadId must be an upload id or instance id' })
  .transform((id): UploadRef => ({ uploadId: uploadIdOfInstance(id) }))
  .meta({ description: 'An upload id (`ca-0123456789abcdef0123`) or the instance id of its ingest orchestration (`ingest-ca-…`).' });

/** `?blob=`: the blob an upload was made from, `container/state/file.csv`; decoded to the upload's source. */
export const blobQuery = z
  .string()
  .max(1100, { error: 'blob must be a blob name such as uploads/ca/file.csv' })
  .refine((name) => !CONTROL.test(name) && /^[a-z0-9-]{3,63}\/[A-Za-z]{2}\/[^/]+$/.test(name), { error: 'blob must be a blob name such as uploads/ca/file.csv' })
  .transform((source): UploadRef => ({ source }))
  .optional()
  .meta({ description: 'The blob the upload was made from (its latest upload): `uploads/{state}/{file}.csv`.' });

/** `{matchId}` and the match cursor `after`: 16 characters of base64url. */
const MATCH_ID = /^[A-Za-z0-9_-]{16}$/;
export const matchIdParam = z.string().regex(MATCH_ID, { error: 'matchId must be a match id' }).meta({ description: 'A match id (16 characters).' });
export const matchCursorQuery = z
  .string()
  .regex(MATCH_ID, { error: 'after must be a cursor returned as next' })
  .optional()
  .meta({ description: 'The `next` of the previous page.' });

/** `?status=` of match records. */
export const matchStatusQuery = z
  .enum(['open', 'closed', 'needs-action'], { error: 'status must be open, closed or needs-action' })
  .default('open')
  .meta({ description: 'Open records (the default), closed ones, or the open ones whose own side has recorded no initial action MATCH_NEEDS_ACTION_DAYS after they opened.' });

/** An integer query parameter within [min, max], or the default when absent. */
export function intQuery(name: string, min: number, max: number, fallback: number) {
  const error = `${name} must be an integer from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error }).default(fallback);
}

/** PostgreSQL's integer: the largest line number a row error can have. */
const MAX_LINE = 2_147_483_647;

/** The row-error cursor `line:column`, as returned in `next`. */
export const rowErrorCursorQuery = z
  .string()
  .max(300, { error: 'after must be a cursor returned as next' })
  .transform((value, context) => {
    const match = /^(\d{1,10}):(.*)$/.exec(value);
    const line = Number(match?.[1]);
    if (!match || line > MAX_LINE || CONTROL.test(match[2]!)) {
      context.addIssue({ code: 'custom', message: 'after must be a cursor returned as next' });
      return z.NEVER;
    }
    return { line, column: match[2] || null };
  })
  .optional()
  .meta({ description: 'The `next` of the previous page (`line:column`).' });

/** A point in time, `from` or `to` of a period: an ISO 8601 date or date and time. */
export function timeQuery(name: string) {
  const error = `${name} must be an ISO 8601 date or time`;
  return z
    .string()
    .max(40, { error })
    .transform((value, context) => {
      const time = new Date(value);
      if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(time.getTime())) return time;
      context.addIssue({ code: 'custom', message: error });
      return z.NEVER;
    })
    .optional()
    .meta({ description: 'An ISO 8601 date or date and time.', example: '2026-12-01T00:00:00Z' });
}

/** The audit cursor `after`: the `next` of the previous page (a record id). */
export const auditCursorQuery = z
  .string()
  .regex(/^[1-9]\d{0,18}$/, { error: 'after must be a cursor returned as next' })
  .optional()
  .meta({ description: 'The `next` of the previous page.' });
