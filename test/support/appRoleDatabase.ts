import pg from 'pg';
import { prepareAppDatabase } from '../../local/src/appDatabase.js';
import { useTestPool } from './database.js';
import { suiteResource } from './suite.js';

/**
 * A fresh database for the enclosing describe block (or file), split as the local stack and the deploy hook make
 * it: `admin` (the administrator, who migrated it) and `app` (a login that acts only as the app's least-privilege role).
 */
export function useAppRoleDatabase(prefix: string, options: { appPoolMax?: number } = {}): { admin: pg.Pool; app: pg.Pool } {
  const { db, pool: admin } = useTestPool(prefix, 2);
  const app = suiteResource(
    async () => new pg.Pool({ connectionString: await prepareAppDatabase(db.url), max: options.appPoolMax ?? 4 }),
    (pool) => pool.end(),
  );
  return { admin, app };
}
