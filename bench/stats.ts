import { readdirSync, readFileSync } from 'node:fs';
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

/** CPU seconds used so far by the whole machine and by this process with its descendants (Linux /proc; zeros elsewhere). */
export interface CpuSnapshot {
  at: number;
  machine: number;
  ours: number;
  /** `ours` by process: PostgreSQL, storage (Azurite), the Functions host (with its children), this process and the rest. */
  parts: CpuParts;
}

export interface CpuParts {
  postgres: number;
  storage: number;
  host: number;
  bench: number;
}

const NO_PARTS: CpuParts = { postgres: 0, storage: 0, host: 0, bench: 0 };

export function partsDelta(from: CpuSnapshot, to: CpuSnapshot): CpuParts {
  const delta = { ...NO_PARTS };
  for (const key of Object.keys(delta) as Array<keyof CpuParts>) delta[key] = to.parts[key] - from.parts[key];
  return delta;
}

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture Node runs on

/** `hostPid`: the Functions host's process, whose CPU (and its children's) counts as `host`. */
export function cpuSnapshot(hostPid?: number): CpuSnapshot {
  const at = performance.now() / 1000;
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is work.
    const machine = fields.slice(0, 8).reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + value), 0) / TICKS_PER_SECOND;
    const parents = new Map<number, number>();
    const used = new Map<number, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parents.set(Number(entry), Number(rest[1]));
        // utime stime cutime cstime: the process and its reaped children (PostgreSQL's exited backends).
        used.set(Number(entry), (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / TICKS_PER_SECOND);
      } catch {
        // the process exited meanwhile
      }
    }
    const descends = (pid: number, from: number | undefined): boolean => {
      for (let p: number | undefined = pid, hops = 0; p && hops < 64; p = parents.get(p), hops++) if (p === from) return true;
      return false;
    };
    const partOf = (pid: number): keyof CpuParts => {
      const command = commandLine(pid);
      if (/^postgres/.test(command) || /\/postgres\b/.test(command)) return 'postgres';
      if (/azurite/i.test(command)) return 'storage';
      return hostPid !== undefined && descends(pid, hostPid) ? 'host' : 'bench';
    };
    let ours = 0;
    const parts = { ...NO_PARTS };
    for (const [pid, seconds] of used) {
      if (!descends(pid, process.pid)) continue;
      ours += seconds;
      parts[partOf(pid)] += seconds;
    }
    return { at, machine, ours, parts };
  } catch {
    return { at, machine: 0, ours: 0, parts: { ...NO_PARTS } };
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Cores' worth of CPU that other processes on the machine used between two snapshots. */
export function othersCores(from: CpuSnapshot, to: CpuSnapshot): number {
  const wall = to.at - from.at;
  return wall > 0 ? Math.max(0, (to.machine - from.machine - (to.ours - from.ours)) / wall) : 0;
}
