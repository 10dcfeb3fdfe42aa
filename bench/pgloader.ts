import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How to get pgloader where it is missing; the comparison skips it rather than failing. */
export const PGLOADER_INSTALL_HINT = 'install it with `sudo apt-get install pgloader` (Debian/Ubuntu) or `brew install pgloader` (macOS)';

/** pgloader's version line, or undefined when it is not on PATH. */
export function pgloaderVersion(): string | undefined {
  const probe = spawnSync('pgloader', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return undefined;
  return /pgloader version "?([^"\s]+)/.exec(probe.stdout)?.[1] ?? probe.stdout.split('\n')[0]!.trim();
}

export interface PgloaderRun {
  seconds: number;
  /** pgloader's own summary of rows read and rows rejected, from its final report. */
  report: string;
}

/**
 * Loads a CSV into an existing table with pgloader's own defaults for CSV files (batches of 25,000 rows,
 * "on error resume next"), the way a user would run it: a command file naming the columns and CSV dialect.
 */
export async function runPgloader(options: { file: string; databaseUrl: string; table: string; columns: readonly string[] }): Promise<PgloaderRun> {
  const workDir = await mkdtemp(join(tmpdir(), 'bulkflow-pgloader-'));
  try {
    const commands = join(workDir, 'load.pgl');
    await writeFile(commands, [
      'LOAD CSV',
      `  FROM '${options.file}' (${options.columns.join(', ')})`,
      `  INTO ${options.databaseUrl}`,
      `  TARGET TABLE ${options.table} (${options.columns.join(', ')})`,
      "  WITH skip header = 1, fields optionally enclosed by '\"', fields escaped by double-quote, fields terminated by ','",
      '  ;',
      '',
    ].join('\n'));
    const started = process.hrtime.bigint();
    const output = await run('pgloader', ['--no-ssl-cert-verification', '--root-dir', workDir, commands]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const total = output.split('\n').filter((line) => /Total import time|Files Processed/.test(line)).map((line) => line.trim().replace(/\s+/g, ' '));
    return { seconds, report: total.join('; ') };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command} exited with code ${String(code)}:\n${output.slice(-4000)}`));
    });
  });
}
