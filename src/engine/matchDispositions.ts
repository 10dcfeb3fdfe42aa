import { z } from 'zod';

/**
 * What each state of a match record records about it (Piipan's match resolution): the fields, their rules, and the
 * fold that makes a side's current disposition from its events. No I/O here (matchResolution.ts stores them).
 */

/** The documented values of the coded fields (README "Match resolution"). */
export const INITIAL_ACTIONS = ['notice_sent', 'client_provided_required_verification'] as const;
export const FINAL_DISPOSITIONS = ['benefits_approved', 'benefits_denied', 'benefits_terminated'] as const;
export const INVALID_MATCH_REASONS = ['incorrect_client_information', 'system_error', 'other'] as const;
/** The longest free text (the explanation of an invalid match whose reason is `other`). */
export const MAX_FREE_TEXT = 500;

/** One side's disposition; an absent field has not been recorded. */
export interface Disposition {
  initial_action_taken?: (typeof INITIAL_ACTIONS)[number];
  /** Dates are calendar dates, YYYY-MM-DD. */
  initial_action_at?: string;
  invalid_match?: boolean;
  invalid_match_reason?: (typeof INVALID_MATCH_REASONS)[number];
  other_reasoning_for_invalid_match?: string;
  final_disposition?: (typeof FINAL_DISPOSITIONS)[number];
  final_disposition_date?: string;
  vulnerable_individual?: boolean;
}
export type DispositionField = keyof Disposition;
/** A change (JSON merge patch): a field set to a value, or to null to clear it. */
export type DispositionPatch = { [F in DispositionField]?: Disposition[F] | null };

export const DISPOSITION_FIELDS: readonly DispositionField[] = [
  'initial_action_taken', 'initial_action_at', 'invalid_match', 'invalid_match_reason', 'other_reasoning_for_invalid_match',
  'final_disposition', 'final_disposition_date', 'vulnerable_individual',
];

/** A field and what is wrong with it; never the value (free text and dates are personal data). */
export interface FieldError {
  field: string;
  message: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Printable text: no control characters (line breaks included), so it can never forge a log or CSV line downstream. */
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u;

/** The latest date that is today somewhere (UTC+14). */
export function latestToday(now: Date): string {
  return new Date(now.getTime() + 14 * 3600_000).toISOString().slice(0, 10);
}

/** A field's rule as a check of its schema: each message names the field, never the value. */
const rule = (field: DispositionField, message: (value: string) => string | undefined) => (payload: { value: string; issues: unknown[] }) => {
  const broken = message(payload.value);
  if (broken) payload.issues.push({ code: 'custom', message: `${field} ${broken}`, input: payload.value });
};
const oneOf = <const V extends readonly [string, ...string[]]>(field: DispositionField, values: V) =>
  z.enum(values, { error: `${field} must be one of ${values.join(', ')}` });
const bool = (field: DispositionField) => z.boolean({ error: `${field} must be true or false` });
/** A real calendar date, not later than today anywhere (UTC+14): a state's "today" is never refused. */
const pastDate = (field: DispositionField, now: () => Date) =>
  z.string({ error: `${field} must be a date written YYYY-MM-DD` })
    .check(rule(field, (value) => {
      const match = DATE.exec(value);
      if (!match) return 'must be a date written YYYY-MM-DD';
      const date = new Date(`${value}T00:00:00Z`);
      if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value || Number(match[1]) < 1900) return 'is not a real calendar date';
      return value > latestToday(now()) ? 'must not be in the future' : undefined;
    }))
    .meta({ format: 'date', description: 'A calendar date (YYYY-MM-DD), not in the future.' });
const freeText = (field: DispositionField) =>
  z.string({ error: `${field} must be non-empty text` })
    .check(rule(field, (value) => {
      if (value.trim() === '') return 'must be non-empty text';
      if (value.length > MAX_FREE_TEXT) return `must be at most ${MAX_FREE_TEXT} characters`;
      return PRINTABLE.test(value) ? undefined : 'must not contain control characters or line breaks';
    }))
    .meta({ maxLength: MAX_FREE_TEXT, description: 'Printable text: no control characters or line breaks.' });

/**
 * A request body as a patch (JSON merge patch, RFC 7396): an object of known fields, each null (cleared) or valid,
 * changing at least one. The edge decodes the PATCH body with it (httpRoutes.ts); the OpenAPI document describes it.
 * `now` dates the "not in the future" rule.
 */
export function dispositionPatchSchema(now: () => Date) {
  const clearable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();
  return z
    .strictObject({
      initial_action_taken: clearable(oneOf('initial_action_taken', INITIAL_ACTIONS)),
      initial_action_at: clearable(pastDate('initial_action_at', now)),
      invalid_match: clearable(bool('invalid_match')),
      invalid_match_reason: clearable(oneOf('invalid_match_reason', INVALID_MATCH_REASONS)),
      other_reasoning_for_invalid_match: clearable(freeText('other_reasoning_for_invalid_match')),
      final_disposition: clearable(oneOf('final_disposition', FINAL_DISPOSITIONS)),
      final_disposition_date: clearable(pastDate('final_disposition_date', now)),
      vulnerable_individual: clearable(bool('vulnerable_individual')),
    }, {
      // The name of an unknown field is the caller's own text: it is not echoed either.
      error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field; the fields are ${DISPOSITION_FIELDS.join(', ')}` : 'the body must be a JSON object of disposition fields'),
    })
    .check((payload) => {
      if (payload.issues.length === 0 && Object.keys(payload.value).length === 0) payload.issues.push({ code: 'custom', message: 'the body changes no field', input: payload.value });
    });
}

/** A side's disposition with a patch applied (null clears a field). */
export function applyPatch(current: Disposition, patch: DispositionPatch): Disposition {
  const next: Record<string, unknown> = { ...current };
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return next as Disposition;
}

/** The rules between fields, checked on the side's disposition as it would be after the change. */
export function checkDisposition(d: Disposition): FieldError[] {
  const errors: FieldError[] = [];
  const together = (x: DispositionField, y: DispositionField) => {
    if ((d[x] === undefined) !== (d[y] === undefined)) errors.push({ field: d[x] === undefined ? x : y, message: `is required with ${d[x] === undefined ? y : x}` });
  };
  together('initial_action_taken', 'initial_action_at');
  together('final_disposition', 'final_disposition_date');
  if (d.initial_action_at && d.final_disposition_date && d.initial_action_at > d.final_disposition_date) {
    errors.push({ field: 'final_disposition_date', message: 'must not be before initial_action_at' });
  }
  if (d.invalid_match === true && d.invalid_match_reason === undefined) errors.push({ field: 'invalid_match_reason', message: 'is required when invalid_match is true' });
  if (d.invalid_match !== true && d.invalid_match_reason !== undefined) errors.push({ field: 'invalid_match_reason', message: 'is allowed only when invalid_match is true' });
  if (d.invalid_match_reason === 'other' && d.other_reasoning_for_invalid_match === undefined) {
    errors.push({ field: 'other_reasoning_for_invalid_match', message: 'is required when invalid_match_reason is other' });
  }
  if (d.invalid_match_reason !== 'other' && d.other_reasoning_for_invalid_match !== undefined) {
    errors.push({ field: 'other_reasoning_for_invalid_match', message: 'is allowed only when invalid_match_reason is other' });
  }
  return errors;
}

/** The fields whose value a patch changes (the names a notification carries). */
export function changedFields(current: Disposition, next: Disposition): DispositionField[] {
  return DISPOSITION_FIELDS.filter((field) => current[field] !== next[field]);
}

/** One stored event of a record. */
export interface MatchEvent {
  version: number;
  kind: 'disposition' | 'reopened';
  state: string | null;
  changes: Record<string, unknown>;
}

/** Each side's current disposition: the fold of the record's disposition events, oldest first. */
export function foldDispositions(events: readonly MatchEvent[]): Map<string, Disposition> {
  const sides = new Map<string, Disposition>();
  for (const event of [...events].sort((x, y) => x.version - y.version)) {
    if (event.kind !== 'disposition' || !event.state) continue;
    sides.set(event.state, applyPatch(sides.get(event.state) ?? {}, event.changes as DispositionPatch));
  }
  return sides;
}

export type ClosedReason = 'final_dispositions' | 'invalid_match';

/** Why the two sides close the record, if they do: both reached a final disposition, or either marked it invalid. */
export function closingReason(a: Disposition, b: Disposition): ClosedReason | undefined {
  if (a.invalid_match === true || b.invalid_match === true) return 'invalid_match';
  if (a.final_disposition !== undefined && b.final_disposition !== undefined) return 'final_dispositions';
  return undefined;
}
