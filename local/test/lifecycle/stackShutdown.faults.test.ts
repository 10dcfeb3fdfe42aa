import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeStockApp } from '../fixtures/stockApp.js';
import { alive, descendants, listening, listeningPorts, runBulkflow, runCommand, signalAndMeasure, waitForText, type Command } from './processes.js';
import { expectCleanStop, useScratchDir } from './support.js';

// Every command that runs the stack, interrupted in every phase, by the three ways a stop arrives: a terminal's
// Ctrl-C (SIGINT to the process group), a service manager's stop (SIGTERM to the group) and `kill PID` (SIGTERM
// to the process alone). One data folder for the file, as a developer's .data: PostgreSQL is initialised once.

type Way = { signal: NodeJS.Signals; target: 'group' | 'parent' };
const WAYS: Way[] = [
  { signal: 'SIGINT', target: 'group' },
  { signal: 'SIGTERM', target: 'group' },
  { signal: 'SIGTERM', target: 'parent' },
];
const INTERRUPTED = { SIGINT: 130, SIGTERM: 143 } as Record<NodeJS.Signals, number>;

const scratch = useScratchDir('stack-shutdown-');
let dataDir: string;
const env = { DATABASE_URL: '' };

beforeAll(() => {
  dataDir = join(scratch.path, 'data');
});

/** Waits for `text`, then a moment more (`afterMs`), to land inside a phase. */
async function at(command: Command, text: string, afterMs = 0): Promise<void> {
  await waitForText(command, text, 180_000);
  if (afterMs) await new Promise((done) => setTimeout(done, afterMs));
}

describe('npm start -- --serve (bulkflow demo --serve)', () => {
  const demo = () => runBulkflow(['demo', '--serve', '--free-ports', '--data', dataDir], env);

  it.each(WAYS)('serving, $signal to the $target: exit 0 (a server asked to stop), in order, nothing left', async ({ signal, target }) => {
    const command = demo();
    await at(command, 'serving until Ctrl-C');
    const stopped = await signalAndMeasure(command, signal, target);
    expectCleanStop(stopped, 0);
    expect(stopped.portsBefore.length).toBeGreaterThanOrEqual(7); // host, issuer, Event Hubs (v4, v6), Azurite x3, PostgreSQL
    expect(stopped.lines.join('\n')).toMatch(/stopped in [\d.]+ s: Event Grid [\d.]+ s, host [\d.]+ s, issuer [\d.]+ s, Event Hubs [\d.]+ s, Azurite [\d.]+ s, PostgreSQL [\d.]+ s/);
  });

  it.each(WAYS)('mid-ingest, $signal to the $target: exit 128+n, nothing left', async ({ signal, target }) => {
    const command = demo();
    await at(command, 'uploading samples/participants-sample.csv', 300);
    expectCleanStop(await signalAndMeasure(command, signal, target), INTERRUPTED[signal]!);
  });

  it.each(WAYS)('starting, $signal to the $target: exit 128+n, what started is stopped', async ({ signal, target }) => {
    const command = demo();
    await at(command, 'starting embedded PostgreSQL', 500);
    expectCleanStop(await signalAndMeasure(command, signal, target), INTERRUPTED[signal]!);
  });
});

describe('a service that dies under the serving stack', () => {
  it('Azurite killed: the rest is stopped at once, exit 1, nothing left', async () => {
    const command = runBulkflow(['demo', '--serve', '--free-ports', '--data', dataDir], env);
    await at(command, 'serving until Ctrl-C');
    const children = descendants(command.pid);
    const ports = listeningPorts([command.pid, ...children]);
    const azurite = children.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('azurite'))!;
    const killed = Date.now();
    process.kill(-azurite, 'SIGKILL');
    const exit = await command.exited;
    const lines = command.linesSince(killed);
    expect(exit.code, lines.join('\n')).toBe(1);
    expect(exit.at - killed).toBeLessThan(10_000);
    expect(lines[0]).toBe('Azurite killed by SIGKILL: stopping the rest');
    expect(lines.length, lines.join('\n')).toBeLessThanOrEqual(3);
    expect(children.filter(alive)).toEqual([]);
    expect(ports.filter((port) => listening().has(port))).toEqual([]);
  });
});

describe('bulkflow ingest', () => {
  const ingest = (state: string) => runBulkflow(['ingest', join(process.cwd(), 'samples', 'participants-sample.csv'), '--state', state, '--free-ports', '--data', dataDir], env);

  it.each(WAYS)('mid-ingest, $signal to the $target: exit 128+n, nothing left', async ({ signal, target }) => {
    const command = ingest('NV');
    await at(command, 'uploading ', 300);
    expectCleanStop(await signalAndMeasure(command, signal, target), INTERRUPTED[signal]!);
  });

  it.each(WAYS)('starting, $signal to the $target: exit 128+n', async ({ signal, target }) => {
    const command = ingest('NV');
    await at(command, 'starting embedded PostgreSQL', 500);
    expectCleanStop(await signalAndMeasure(command, signal, target), INTERRUPTED[signal]!);
  });
});

describe('bulkflow host', () => {
  it('serving, SIGTERM to the process alone: exit 0, nothing left', async () => {
    const appDir = join(scratch.path, 'app');
    await writeStockApp(appDir);
    const host = runBulkflow(['host', '--app', appDir, '--port', '0'], env);
    await at(host, 'Ctrl-C to stop');
    expectCleanStop(await signalAndMeasure(host, 'SIGTERM', 'parent'), 0);
  });
});

describe('npm start itself (npm and sh in the process group too)', () => {
  it('serving, Ctrl-C to the group: the stack stops in order; npm exits with the interrupt', async () => {
    const command = runCommand('npm', ['start', '--', '--serve', '--free-ports', '--data', dataDir], env);
    await at(command, 'serving until Ctrl-C');
    const stopped = await signalAndMeasure(command, 'SIGINT', 'group');
    // npm re-raises the signal its script died of, so npm itself ends by SIGINT (a shell shows 130).
    expect(stopped.code === 130 || stopped.signal === 'SIGINT', `code ${stopped.code} signal ${stopped.signal}`).toBe(true);
    expect(stopped.ms).toBeLessThan(10_000);
    // bulkflow may outlive npm by its own shutdown: give it the stop deadline, then nothing may be left.
    const deadline = Date.now() + 10_000;
    while (stopped.processesBefore.some((pid) => alive(pid)) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));
    expect(stopped.processesBefore.filter((pid) => alive(pid))).toEqual([]);
    expect(stopped.portsBefore.filter((port) => listening().has(port))).toEqual([]);
    expect(command.output()).toMatch(/stopped in [\d.]+ s: Event Grid/);
  }, 300_000);
});
