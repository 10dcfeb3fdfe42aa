// @ts-check
/**
 * predeploy: brings the database up to the schema of the code about to be deployed, before it serves. Signed in as
 * the server's Entra administrator (the principal running azd), it
 *   1. maps the app's managed identity to a PostgreSQL login (pgaadauth_create_principal_with_oid), once;
 *   2. runs the migrations, which also create and grant the least-privilege role `bulkflow_app`;
 *   3. lets that login act as `bulkflow_app` and nothing else (the app sets its role at connect: DB_ROLE).
 * The app never migrates on Azure. The server admits Azure services only: when this machine is refused, its
 * address (from the server's refusal) gets a firewall rule for the duration of the hook.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { azFor, HookError, npm, required, retry, retryDelayMs } from './az.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Must match migrations/ (the role the migrations grant) and DB_ROLE in infra/bicep/modules/functionApp.bicep. */
export const appRole = 'bulkflow_app';
const firewallRule = 'azd-deploy-client';

/** @param {NodeJS.ProcessEnv} env */
export async function predeploy(env) {
  const values = required(env, [
    'RESOURCE_GROUP',
    'AZURE_POSTGRES_HOST',
    'AZURE_POSTGRES_SERVER_NAME',
    'AZURE_POSTGRES_DATABASE',
    'AZURE_POSTGRES_ADMIN_NAME',
    'AZURE_APP_IDENTITY_NAME',
    'AZURE_APP_IDENTITY_PRINCIPAL_ID',
  ]);
  const az = azFor(env);
  const delayMs = retryDelayMs(env);
  const token = az(['account', 'get-access-token', '--resource-type', 'oss-rdbms', '--query', 'accessToken', '--output', 'tsv'], {
    scope: env.AZURE_TENANT_ID ? 'tenant' : 'subscription',
  });

  // The migrations run through the app's own migrate() (the same runner and options as everywhere else).
  if (!existsSync(join(root, 'node_modules', 'pg'))) npm(['ci'], root);
  npm(['run', 'build'], root);
  const pg = (await import('pg')).default;
  const engine = /** @type {{ migrate(database: import('pg').Pool): Promise<void> }} */ (
    await import(pathToFileURL(join(root, 'dist', 'src', 'engine', 'index.js')).href)
  );

  /** @param {string} database */
  const connection = (database) => ({
    host: values.AZURE_POSTGRES_HOST,
    port: 5432,
    database,
    user: values.AZURE_POSTGRES_ADMIN_NAME,
    password: token,
    ssl: { rejectUnauthorized: true },
    connectionTimeoutMillis: 30_000,
  });
  const server = ['--resource-group', values.RESOURCE_GROUP, '--name', values.AZURE_POSTGRES_SERVER_NAME];
  let ruleCreated = false;

  /** @param {string} database */
  const connect = async (database) => {
    const client = new pg.Client(connection(database));
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      const refusedAddress = /no pg_hba\.conf entry for host "([^"]+)"/.exec(String(/** @type {Error} */ (error).message))?.[1];
      if (!refusedAddress || ruleCreated) throw error;
      console.log(`predeploy: PostgreSQL refused ${refusedAddress}; allowing it until the migrations are done`);
      az(['postgres', 'flexible-server', 'firewall-rule', 'create', ...server, '--rule-name', firewallRule,
        '--start-ip-address', refusedAddress, '--end-ip-address', refusedAddress, '--output', 'none']);
      ruleCreated = true;
      // A new rule takes effect within a minute or so.
      return retry({ attempts: 12, delayMs, retryable: (e) => /pg_hba\.conf/.test(String(/** @type {Error} */ (e).message)) }, async () => {
        const retried = new pg.Client(connection(database));
        try {
          await retried.connect();
          return retried;
        } catch (retryError) {
          await retried.end().catch(() => {});
          throw retryError;
        }
      });
    }
  };

  try {
    const admin = await connect('postgres');
    try {
      const identity = values.AZURE_APP_IDENTITY_NAME;
      const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [identity]);
      if (rowCount === 0) {
        await admin.query(`SELECT * FROM pgaadauth_create_principal_with_oid($1, $2, 'service', false, false)`, [identity, values.AZURE_APP_IDENTITY_PRINCIPAL_ID]);
        console.log(`predeploy: login ${identity} created for the app's managed identity`);
      }
    } finally {
      await admin.end();
    }

    const pool = new pg.Pool({ ...connection(values.AZURE_POSTGRES_DATABASE), max: 1 });
    try {
      await engine.migrate(pool);
      const client = await pool.connect();
      try {
        // Membership without inheritance: the login holds no rights of its own and acts only after SET ROLE.
        await client.query(`GRANT ${appRole} TO ${client.escapeIdentifier(values.AZURE_APP_IDENTITY_NAME)} WITH INHERIT FALSE, SET TRUE`);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
    console.log(`predeploy: ${values.AZURE_POSTGRES_DATABASE} migrated; ${values.AZURE_APP_IDENTITY_NAME} may act as ${appRole}`);
  } catch (error) {
    if (error instanceof HookError) throw error;
    throw new HookError(`PostgreSQL ${values.AZURE_POSTGRES_HOST} as ${values.AZURE_POSTGRES_ADMIN_NAME}: ${/** @type {Error} */ (error).message}`);
  } finally {
    if (ruleCreated) {
      az(['postgres', 'flexible-server', 'firewall-rule', 'delete', ...server, '--rule-name', firewallRule, '--yes', '--output', 'none']);
    }
  }
}
