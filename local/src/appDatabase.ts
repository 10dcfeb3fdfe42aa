import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/engine/index.js';

/** Must match migrations/ (the role they create and grant) and PGOPTIONS in infra/bicep/modules/functionApp.bicep. */
export const APP_ROLE = 'bulkflow_app';

/**
 * The split the app has on Azure, on a local database: `adminUrl` (the stack's superuser, standing in for the
 * Entra administrator of the deploy hook) migrates; the app gets a URL of a login that holds nothing itself and
 * acts as the least-privilege app role in every session (`options=-c role=...`). Returns that URL.
 */
export async function prepareAppDatabase(adminUrl: string): Promise<string> {
  await migrate(adminUrl);
  const url = new URL(adminUrl);
  const database = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  // Roles belong to the server, which test runs share between databases: one login per database.
  const login = `bulkflow_login_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
  const password = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const role = admin.escapeIdentifier(login);
    const exists = (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [login])).rowCount === 1;
    await admin.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${role} LOGIN NOINHERIT PASSWORD ${admin.escapeLiteral(password)}`);
    await admin.query(`GRANT ${APP_ROLE} TO ${role} WITH INHERIT FALSE, SET TRUE`);
  } finally {
    await admin.end();
  }
  url.username = login;
  url.password = password;
  url.searchParams.set('options', `-c role=${APP_ROLE}`);
  return url.toString();
}
