import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../src/engine/index.js';

export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A new migrated database on the bench's server, and a pool on it. */
export async function createBenchDatabase(serverUrl: string, prefix: string, poolMax: number): Promise<BenchDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: poolMax });
  pool.on('error', () => {}); // an idle connection closed by the server is dropped by the pool
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
