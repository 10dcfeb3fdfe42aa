import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeStockApp } from '../fixtures/stockApp.js';
import { alive, descendants, listening, listeningPorts, runBulkflow, signalAndMeasure, waitForText, type Command } from './processes.js';
import { expectCleanStop, useScratchDir } from './support.js';

// `bulkflow host` and `bulkflow eventhubs` as a terminal runs them (own process group), stopped every way a user
// or a service manager stops them. The host keeps its embedded PostgreSQL in the app folder, so the first start
// initialises it and later ones reuse it.

const scratch = useScratchDir('shutdown-');
let appDir: string;
// Without DATABASE_URL the host starts its own embedded PostgreSQL (a child process to stop in order).
const env = { DATABASE_URL: '' };

beforeAll(async () => {
  appDir = join(scratch.path, 'app');
  await writeStockApp(appDir);
});

async function serveHost(): Promise<{ host: Command; url: string }> {
  const host = runBulkflow(['host', '--app', appDir, '--port', '0'], env);
  await waitForText(host, 'Ctrl-C to stop');
  const url = /Host listening on (http:\/\/\S+)/.exec(host.output())![1]!;
  return { host, url };
}

describe('bulkflow host with its embedded PostgreSQL', () => {
  it('serving, Ctrl-C to the process group: stops the host, then PostgreSQL; exit 0 within 10 s, nothing left', async () => {
    const { host } = await serveHost();
    const stopped = await signalAndMeasure(host, 'SIGINT', 'group');
    expectCleanStop(stopped, 0);
    expect(stopped.processesBefore.length).toBeGreaterThan(0); // PostgreSQL and its workers
    expect(stopped.portsBefore.length).toBeGreaterThanOrEqual(2); // the host and PostgreSQL
    expect(stopped.lines.join('\n')).toMatch(/stopped in [\d.]+ s: host [\d.]+ s, PostgreSQL [\d.]+ s/);
  });

  it('starting, SIGTERM to the process group: gives up starting, stops what started; exit 143', async () => {
    const host = runBulkflow(['host', '--app', appDir, '--port', '0'], env);
    await waitForText(host, 'starting the Functions host');
    expectCleanStop(await signalAndMeasure(host, 'SIGTERM', 'group'), 143);
  });

  it('PostgreSQL killed under it: the host notices, stops and exits 1 instead of retrying', async () => {
    const { host } = await serveHost();
    const children = descendants(host.pid);
    const postgres = children.find((pid) => listeningPorts([pid]).length > 0)!;
    const ports = listeningPorts([host.pid, ...children]);
    const started = Date.now();
    process.kill(-postgres, 'SIGKILL');
    const exit = await host.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - started).toBeLessThan(10_000);
    const after = host.linesSince(started);
    expect(after[0]).toBe('PostgreSQL killed by SIGKILL: stopping the host');
    expect(after.length).toBeLessThanOrEqual(3);
    expect(children.filter(alive)).toEqual([]);
    expect(ports.filter((port) => listening().has(port))).toEqual([]);
  });

  it('a second Ctrl-C while draining exits at once with 130; PostgreSQL still stops', async () => {
    const { host, url } = await serveHost();
    const children = descendants(host.pid);
    const inFlight = fetch(`${url}/api/slow?ms=20000`).catch(() => undefined);
    await new Promise((done) => setTimeout(done, 300));
    process.kill(-host.pid, 'SIGINT');
    await new Promise((done) => setTimeout(done, 800));
    expect(host.child.exitCode).toBeNull(); // still draining the slow request
    const second = Date.now();
    process.kill(-host.pid, 'SIGINT');
    const exit = await host.exited;
    expect(exit.code).toBe(130);
    expect(exit.at - second).toBeLessThan(1_500);
    expect(host.linesSince(second)).toEqual(['second SIGINT: exiting now']);
    // PostgreSQL got a fast shutdown request as the parent exited; it completes on its own.
    const deadline = Date.now() + 10_000;
    while (children.some(alive) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));
    expect(children.filter(alive)).toEqual([]);
    await inFlight;
  });

  it.skipIf(process.getuid?.() !== 0)('as root, from a private folder (mode 700): PostgreSQL data goes where its user can reach it, and says so', async () => {
    const privateDir = await mkdtemp(join(scratch.path, 'private-'));
    await chmod(privateDir, 0o700);
    await writeStockApp(privateDir);
    const host = runBulkflow(['host', '--app', privateDir, '--port', '0'], env);
    await waitForText(host, 'Ctrl-C to stop');
    const relocated = new RegExp(`PostgreSQL data: (/var/lib/bulkflow/postgres-[0-9a-f]{12}) \\(it runs as the postgres user, which cannot enter ${privateDir.replace(/[/.]/g, '\\$&')}\\)`).exec(host.output());
    expect(relocated, host.output()).not.toBeNull();
    const url = /Host listening on (http:\/\/\S+)/.exec(host.output())![1]!;
    expect((await fetch(`${url}/api/hello`)).status).toBe(200);
    expectCleanStop(await signalAndMeasure(host, 'SIGTERM', 'group'), 0);
    await rm(relocated![1]!, { recursive: true, force: true });
  });
});

describe('bulkflow eventhubs', () => {
  it('Ctrl-C to the process group: closes its port and exits 0', async () => {
    const endpoint = runBulkflow(['eventhubs', '--port', '0', '--data', join(scratch.path, 'eventhubs'), '--config', join(process.cwd(), 'eventhubs.local.json')]);
    await waitForText(endpoint, 'upload-events: Endpoint=sb://');
    const stopped = await signalAndMeasure(endpoint, 'SIGINT', 'group');
    expectCleanStop(stopped, 0);
    expect(stopped.portsBefore.length).toBeGreaterThan(0);
  });
});
