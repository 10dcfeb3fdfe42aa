/**
 * Local host throughput: fan-out/fan-in of no-op activities, flat and in sub-orchestrations of 500.
 * Prints activities/s and the slowest single replay. `DATABASE_URL` or an embedded PostgreSQL.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { resolvePostgres } from '../src/embeddedPostgres.js';
import { startHost } from '../src/host/host.js';

const appDir = fileURLToPath(new URL('../../../local/bench/host-app', import.meta.url));
const cases = [
  { label: 'flat 1,000', name: 'Flat', input: { count: 1_000 } },
  { label: 'sub-orchestrations of 500, 1,000', name: 'Split', input: { count: 1_000, size: 500 } },
  { label: 'flat 10,000', name: 'Flat', input: { count: 10_000 } },
  { label: 'sub-orchestrations of 500, 10,000', name: 'Split', input: { count: 10_000, size: 500 } },
];

const postgres = await resolvePostgres({ dataDir: await mkdtemp(join(tmpdir(), 'host-bench-pg-')), persistent: false });
const database = `host_bench_${Date.now()}`;
const admin = new pg.Client({ connectionString: postgres.url });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(postgres.url);
url.pathname = `/${database}`;

try {
  console.log('case                                   activities   seconds   activities/s   episodes   slowest replay (events)');
  for (const [index, c] of cases.entries()) {
    // A fresh host per case so the replay figures belong to that case.
    const host = await startHost({ appDir, port: 0, databaseUrl: url.toString() });
    try {
      const started = performance.now();
      const response = await fetch(`${host.url}/runtime/webhooks/durabletask/orchestrators/${c.name}/bench-${index}`, { method: 'POST', body: JSON.stringify(c.input) });
      const { statusQueryGetUri } = (await response.json()) as { statusQueryGetUri: string };
      let status: { runtimeStatus: string; output: unknown };
      do {
        await new Promise((r) => setTimeout(r, 100));
        status = (await (await fetch(statusQueryGetUri)).json()) as typeof status;
      } while (status.runtimeStatus === 'Running' || status.runtimeStatus === 'Pending');
      const seconds = (performance.now() - started) / 1000;
      if (status.runtimeStatus !== 'Completed' || status.output !== c.input.count) throw new Error(`${c.label}: ${JSON.stringify(status)}`);
      const stats = host.stats();
      console.log(
        `${c.label.padEnd(38)} ${String(c.input.count).padStart(10)} ${seconds.toFixed(2).padStart(9)} ${Math.round(c.input.count / seconds).toString().padStart(14)}` +
        ` ${String(stats.episodes).padStart(10)}   ${stats.maxReplayMs.toFixed(0)} ms (${stats.maxReplayEvents})`,
      );
    } finally {
      await host.stop();
    }
  }
} finally {
  await admin.query(`DROP DATABASE ${database} WITH (FORCE)`).catch(() => {});
  await admin.end();
  await postgres.stop();
}
