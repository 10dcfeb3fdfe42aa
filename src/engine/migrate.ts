import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { withClient } from './db.js';

/**
 * Applies pending migrations; concurrent callers wait on node-pg-migrate's advisory lock. Given a pool
 * (the app's, which may authenticate with Entra tokens), it borrows one connection.
 */
export async function migrate(database: string | pg.Pool): Promise<void> {
  if (typeof database !== 'string') return withClient(database, (client) => run({ dbClient: client }));
  return run({ databaseUrl: database });
}

async function run(connection: { databaseUrl: string } | { dbClient: pg.PoolClient }): Promise<void> {
  await runner({
    ...connection,
    dir: migrationsDirectory(),
    direction: 'up',
    migrationsTable: 'pgmigrations',
    migrationsSchema: 'bulkflow',
    createMigrationsSchema: true,
    checkOrder: true,
    advisoryLockMode: 'wait',
    log: () => {},
  });
}

export function migrationsDirectory(): string {
  return join(packageRoot(), 'migrations');
}

/** The package root (with package.json), found from this module whether it runs from src/ or dist/src/. */
function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('cannot find the package root (package.json) above the engine');
    directory = parent;
  }
  return directory;
}
