import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { localPackagePath } from '../../packageRoot.js';

/** `my-hub` → `durable_my_hub`: a safe, lower-case identifier for the hub's schema. */
export function hubSchema(hubName: string): string {
  const clean = hubName.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 50);
  return `durable_${clean}`;
}

export async function migrateHub(databaseUrl: string, schema: string): Promise<void> {
  await runner({
    databaseUrl,
    dir: localPackagePath('src', 'host', 'migrations'),
    direction: 'up',
    migrationsTable: 'pgmigrations',
    schema,
    migrationsSchema: schema,
    createSchema: true,
    createMigrationsSchema: true,
    log: () => {},
  });
}

/** A pool whose connections use the hub's schema. */
export function createPool(databaseUrl: string, schema: string, max: number): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl, max, options: `-c search_path=${schema}` });
}

export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection that dies between queries (while the episode runs user code) emits 'error' on the client;
  // the next query then fails and the transaction rolls back, so the event itself needs no handling.
  const ignore = () => {};
  client.on('error', ignore);
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.off('error', ignore);
    // Passing the error discards the connection instead of returning a possibly broken one to the pool.
    client.release(failure);
  }
}

/** Channels the workers LISTEN on; a slow poll covers missed notifications and due timers. */
export const CHANNELS = { orchestrations: 'orchestrations', activities: 'activities', entities: 'entities' } as const;
export type Channel = keyof typeof CHANNELS;

export function notifySql(schema: string, channel: Channel): string {
  return `SELECT pg_notify('${schema}_${CHANNELS[channel]}', '')`;
}
