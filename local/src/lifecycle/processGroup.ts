import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat this package reads. */
export interface ProcStat {
  pid: number;
  /** R, S, D, T, Z (zombie: ended, not yet reaped), X... */
  state: string;
  ppid: number;
  pgrp: number;
}

/** One process's /proc/PID/stat, or undefined when it is gone (or /proc does not exist). */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or parentheses: split after the last ')'.
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: state!, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** Every process on the machine, from /proc (empty where there is no /proc). */
export function allProcesses(): ProcStat[] {
  if (!existsSync('/proc')) return [];
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => procStat(Number(entry)))
    .filter((stat): stat is ProcStat => stat !== undefined);
}

/**
 * Whether a process still runs. `kill(pid, 0)` cannot tell: a process that was killed is still there to it until
 * its parent reaps it (a zombie), and a killed process is still there for the moment it takes to tear down.
 * A zombie has ended; anything else has not.
 */
export function running(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The processes of a process group that have not ended. */
export function runningMembers(pgid: number): number[] {
  return allProcesses()
    .filter((stat) => stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X')
    .map((stat) => stat.pid);
}
