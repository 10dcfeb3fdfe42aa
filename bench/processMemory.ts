import { readFile, writeFile } from 'node:fs/promises';

/** Starts a new peak-RSS measurement of a process (Linux: writing 5 to clear_refs resets VmHWM); false where unsupported. */
export async function resetPeak(pid: number): Promise<boolean> {
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(() => true, () => false);
}

/** Peak and current resident memory of a process, MiB (Linux /proc; null elsewhere). */
export async function memory(pid: number): Promise<{ peakMiB: number | null; rssMiB: number | null }> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { peakMiB: Math.round(kib('VmHWM') / 1024), rssMiB: Math.round(kib('VmRSS') / 1024) };
  } catch {
    return { peakMiB: null, rssMiB: null };
  }
}
