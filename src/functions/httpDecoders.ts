import type { RowErrorCursor } from '../engine/index.js';

/** A request the API cannot read: answered 400 with the message. */
export class BadRequest extends Error {}

/** An integer query parameter within [min, max], or the default when absent. */
export function intParam(value: string | null, name: string, min: number, max: number, fallback: number): number {
  if (value === null || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new BadRequest(`${name} must be an integer from ${min} to ${max}`);
  }
  return parsed;
}

/** Cursor `line:column` as returned in `next`. */
export function parseCursor(value: string | null): RowErrorCursor | undefined {
  if (!value) return undefined;
  const match = /^(\d+):(.*)$/.exec(value);
  if (!match) throw new BadRequest('after must be a cursor returned as next');
  return { line: Number(match[1]), column: match[2] || null };
}
