import type { TokenCredential } from '@azure/identity';
import pg from 'pg';
import { credentialFor } from './azureCredential.js';
import { createTokenSource } from './entraToken.js';
import type { PostgresSettings, SslMode } from './settings.js';

/** Scope of Entra access tokens accepted as passwords by Azure Database for PostgreSQL. */
export const postgresTokenScope = 'https://ossrdbms-aad.database.windows.net/.default';

export interface PoolOptions {
  max: number;
  /** Credential for the Entra token; by default the one `AZURE_CLIENT_ID` selects. Tests pass their own. */
  credential?: TokenCredential;
  /** Clock of the token cache, for tests. */
  now?: () => number;
}

/**
 * A pg pool from the settings: `DATABASE_URL` as given, or PGHOST/PGDATABASE/PGUSER (and PGOPTIONS) with a
 * static password or, on Azure, an Entra access token. pg calls the password function for every new connection,
 * so connections opened after a token refresh get the new token while open ones keep working.
 */
export function createPool(settings: PostgresSettings, options: PoolOptions): pg.Pool {
  if (settings.kind === 'url') return new pg.Pool({ connectionString: settings.url, max: options.max });
  const password =
    settings.password ??
    (() => {
      const credential = options.credential ?? credentialFor(settings.clientId ? { clientId: settings.clientId } : {});
      const tokens = createTokenSource(credential, postgresTokenScope, options.now ? { now: options.now } : {});
      return () => tokens.get();
    })();
  return new pg.Pool({
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: settings.user,
    password,
    ssl: sslOption(settings.sslMode),
    ...(settings.options ? { options: settings.options } : {}),
    max: options.max,
  });
}

/** libpq's sslmode meanings; Azure's server certificates chain to roots in Node's default store. */
function sslOption(mode: SslMode): pg.PoolConfig['ssl'] {
  switch (mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}
