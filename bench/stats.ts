import { loadavg } from 'node:os';

/** Summary of one figure over repeated runs. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** `min / median / max` with the same formatting for each value. */
export function formatSpread(s: Spread, format: (value: number) => string): string {
  return `${format(s.min)} / ${format(s.median)} / ${format(s.max)}`;
}

export const rate = (value: number) => `${Math.round(value / 1000)}k`;
export const secs = (value: number) => `${value.toFixed(2)} s`;
export const fixed2 = (value: number) => value.toFixed(2);
export const percent = (value: number) => `${Math.round(value * 100)} %`;
export const ms = (value: number) => `${Math.round(value)} ms`;
export const mib = (value: number) => `${Math.round(value)} MiB`;

/** The 1-minute load average: how busy the machine was (this benchmark itself accounts for about 2). */
export const load1 = () => loadavg()[0]!;
