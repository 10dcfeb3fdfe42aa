/**
 * The start position a receiver asks for, from its `apache.org:selector-filter:string` source
 * filter, e.g. `amqp.annotation.x-opt-offset > '-1'` (earliest), `... > '@latest'`,
 * `amqp.annotation.x-opt-sequence-number >= '42'`, `amqp.annotation.x-opt-enqueued-time > '1700000000000'`.
 */
export type StartPosition =
  | { kind: 'latest' }
  | { kind: 'offset'; value: number; inclusive: boolean }
  | { kind: 'sequence'; value: number; inclusive: boolean }
  | { kind: 'time'; value: number; inclusive: boolean };

export const SELECTOR_FILTER = 'apache.org:selector-filter:string';

const EXPRESSION = /^\s*amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/i;

export class FilterError extends Error {}

export function parseStartPosition(expression: string | undefined): StartPosition {
  // No filter: the service starts at the end of the stream.
  if (expression === undefined) return { kind: 'latest' };
  const match = EXPRESSION.exec(expression);
  if (!match) throw new FilterError(`unsupported selector filter "${expression}"`);
  const [, field = '', operator, raw = ''] = match;
  const inclusive = operator === '>=';
  if (field.toLowerCase() === 'offset' && raw === '@latest') return { kind: 'latest' };
  const value = Number(raw);
  if (!Number.isFinite(value) || !Number.isInteger(value)) throw new FilterError(`invalid ${field} "${raw}" in selector filter`);
  switch (field.toLowerCase()) {
    case 'offset':
      return { kind: 'offset', value, inclusive };
    case 'sequence-number':
      return { kind: 'sequence', value, inclusive };
    default:
      return { kind: 'time', value, inclusive };
  }
}

/** Reads the selector expression out of a decoded AMQP source filter map. */
export function selectorExpression(filter: unknown): string | undefined {
  if (!filter || typeof filter !== 'object') return undefined;
  const entry = (filter as Record<string, unknown>)[SELECTOR_FILTER];
  if (entry === undefined || entry === null) return undefined;
  // rhea leaves described values as { descriptor, value }; plain strings may come unwrapped.
  const value = typeof entry === 'object' && 'value' in entry ? (entry as { value: unknown }).value : entry;
  return typeof value === 'string' ? value : String(value);
}
