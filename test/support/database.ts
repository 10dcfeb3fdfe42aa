import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { suiteResource } from './suite.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the run's server, so test files never see each other's rows. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await createDatabase(name);
  return { url: databaseUrl(name), drop: () => dropDatabase(name) };
}

export async function createDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: inject('postgresUrl') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

/** The URL of database `name` on the run's server (whether it exists or not). */
export function databaseUrl(name: string): string {
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  await client.connect();
  try {
    // A pool's end() resolves before its sessions have closed; forcing one still closing makes the server
    // send it a FATAL that its client, already let go by the pool, reports as an uncaught error. Let them go first.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0]!.n === 0) break;
      await new Promise((done) => setTimeout(done, 50));
    }
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** A fresh database for the enclosing describe block (or file), dropped after its tests. */
export function useTestDatabase(prefix?: string): TestDatabase {
  return suiteResource(() => createTestDatabase(prefix), (db) => db.drop());
}

/** A fresh database and a pool on it for the enclosing describe block (or file), both gone after its tests. */
export function useTestPool(prefix: string, max = 4): { db: TestDatabase; pool: pg.Pool } {
  const db = useTestDatabase(prefix);
  const pool = suiteResource(async () => new pg.Pool({ connectionString: db.url, max }), (resource) => resource.end());
  return { db, pool };
}
