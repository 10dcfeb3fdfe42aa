import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { suiteResource } from '../../../test/support/suite.js';
import type { StopMeasure } from './processes.js';

/** Exit within 10 s of the signal (the bound; the stack's own deadline is 9 s). */
export const EXIT_BOUND_MS = 10_000;
/** The acknowledgement, one line per component at most, and the summary. */
export const MAX_LINES_AFTER_SIGNAL = 8;

/**
 * A scratch folder inside the repository (apps written there resolve `@azure/functions` from its node_modules),
 * open to other users: as root, PostgreSQL runs as `postgres` and keeps its data in here.
 */
export async function scratchDir(prefix: string): Promise<string> {
  await mkdir(join(process.cwd(), '.data'), { recursive: true });
  const dir = await mkdtemp(join(process.cwd(), '.data', prefix));
  await chmod(dir, 0o755);
  return dir;
}

/** A scratch folder (see scratchDir) for the tests of this file or describe block: made before them, removed after. */
export function useScratchDir(prefix: string): { readonly path: string } {
  return suiteResource(async () => ({ path: await scratchDir(prefix) }), (dir) => rm(dir.path, { recursive: true, force: true }));
}

/** What every stop must satisfy: in time, with the expected code, nothing left running or listening, quietly. */
export function expectCleanStop(measure: StopMeasure, code: number): void {
  const context = `lines after the signal:\n${measure.lines.join('\n')}`;
  expect(measure.code, context).toBe(code);
  expect(measure.ms, context).toBeLessThan(EXIT_BOUND_MS);
  expect(measure.leftProcesses, context).toEqual([]);
  expect(measure.leftPorts, context).toEqual([]);
  expect(measure.lines.length, context).toBeLessThanOrEqual(MAX_LINES_AFTER_SIGNAL);
}
