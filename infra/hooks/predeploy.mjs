// @ts-check
/**
 * predeploy: brings the database up to the schema of the code about to be deployed, before it serves. Signed in as
 * the server's Entra administrator group (AZURE_POSTGRES_ADMIN_NAME, with the deployer's own token: every deployer
 * is a member and acts as the same role), it
 *   1. creates the database when it does not exist, so the group owns it (one made by ARM before any administrator
 *      existed would belong to the service's superuser and refuse CREATE SCHEMA);
 *   2. maps the app's managed identity to a PostgreSQL login (pgaadauth_create_principal_with_oid), once;
 *   3. runs the migrations, which also create and grant the least-privilege role `bulkflow_app`;
 *   4. lets that login act as `bulkflow_app` and nothing else (the app sets its role at connect: PGOPTIONS).
 * The app never migrates on Azure. When the server refuses this machine's address (it admits Azure services only,
 * or nobody with the private network), that address gets a firewall rule for the duration of the hook, removed
 * on every way out: success, failure, Ctrl-C or a terminated process.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { azFor, HookError, npm, required, retry, retryDelayMs } from './az.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Must match migrations/ (the role the migrations grant) and DB_ROLE in infra/bicep/modules/functionApp.bicep. */
export const appRole = 'bulkflow_app';

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
  // A pipeline that built this checkout already may say so and save the build.
  if (env.PREDEPLOY_SKIP_BUILD !== 'true') npm(['run', 'build'], root);
  const pg = (await import('pg')).default;
  const engine = /** @type {{ migrate(database: import('pg').Pool): Promise<void> }} */ (
    await import(pathToFileURL(join(root, 'dist', 'src', 'engine', 'index.js')).href)
  );

  /** @param {string} database */
  const connection = (database) => ({
    host: values.AZURE_POSTGRES_HOST,
    // 5432 on Azure; PGPORT (the libpq convention node-postgres follows) when set.
    database,
    user: values.AZURE_POSTGRES_ADMIN_NAME,
    password: token,
    ssl: { rejectUnauthorized: true },
    connectionTimeoutMillis: 30_000,
  });
  const server = ['--resource-group', values.RESOURCE_GROUP, '--name', values.AZURE_POSTGRES_SERVER_NAME];
  /** @type {string | undefined} the firewall rule this run made, until it is removed */
  let rule;
  const removeRule = () => {
    if (!rule) return;
    const name = rule;
    rule = undefined;
    az(['postgres', 'flexible-server', 'firewall-rule', 'delete', ...server, '--rule-name', name, '--yes', '--output', 'none']);
    console.log(`predeploy: firewall rule ${name} removed`);
  };
  // An interrupted deploy must not leave the server open to this address: remove the rule, then die of the signal.
  /** @param {NodeJS.Signals} signal */
  const onSignal = (signal) => {
    try {
      removeRule();
    } finally {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
  };
  const signals = /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);
  for (const signal of signals) process.on(signal, onSignal);

  /** A connected client; on failure the client is ended and the error thrown. @param {string} database */
  const openClient = async (database) => {
    const client = new pg.Client(connection(database));
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  };

  /** @param {string} database */
  const connect = async (database) => {
    try {
      return await openClient(database);
    } catch (error) {
      const refusedAddress = /no pg_hba\.conf entry for host "([^"]+)"/.exec(String(/** @type {Error} */ (error).message))?.[1];
      if (!refusedAddress || rule) throw error;
      console.log(`predeploy: PostgreSQL refused ${refusedAddress}; allowing it until the migrations are done`);
      // One rule per address, so two deployers at once never remove each other's.
      rule = `azd-deploy-${refusedAddress.replace(/[^\w]/g, '-')}`;
      az(['postgres', 'flexible-server', 'firewall-rule', 'create', ...server, '--rule-name', rule,
        '--start-ip-address', refusedAddress, '--end-ip-address', refusedAddress, '--output', 'none']);
      // A new rule takes effect within a minute or so.
      return retry({ attempts: 12, delayMs, retryable: (e) => /pg_hba\.conf/.test(String(/** @type {Error} */ (e).message)) }, () => openClient(database));
    }
  };

  try {
    const admin = await connect('postgres');
    try {
      const database = values.AZURE_POSTGRES_DATABASE;
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) {
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)} ENCODING 'UTF8' TEMPLATE template0`);
        console.log(`predeploy: database ${database} created, owned by ${values.AZURE_POSTGRES_ADMIN_NAME}`);
      }
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
        await client.query(`GRANT ${appRole} TO ${client.escapeIdentifier(values.AZURE_APP_IDENTITY_NAME)} WITH INHERIT FALSE, SET TRUE`).catch((error) => {
          // PostgreSQL 16: only a holder of ADMIN OPTION on the role may grant it, i.e. the role that created it.
          if (/permission denied to grant role|must have admin option/i.test(String(error.message))) {
            throw new HookError(
              `${values.AZURE_POSTGRES_ADMIN_NAME} may not grant ${appRole}: it was created by another administrator (one that deployed before the ` +
                `administrator became a group). As that principal, run once: GRANT ${appRole} TO "${values.AZURE_POSTGRES_ADMIN_NAME}" WITH ADMIN OPTION`,
            );
          }
          throw error;
        });
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
    console.log(`predeploy: ${values.AZURE_POSTGRES_DATABASE} migrated; ${values.AZURE_APP_IDENTITY_NAME} may act as ${appRole}`);
  } catch (error) {
    if (error instanceof HookError) throw error;
    const message = /** @type {Error} */ (error).message;
    // A principal outside the administrator group is refused at sign-in under the group's name.
    const hint = /password authentication failed|does not exist/i.test(message)
      ? `\nThe principal az is signed in as must be a member of the Entra group "${values.AZURE_POSTGRES_ADMIN_NAME}"; an owner of the group adds it: ` +
        'az ad group member add --group <group object id> --member-id <your object id> (then sign in again: az login)'
      : '';
    throw new HookError(`PostgreSQL ${values.AZURE_POSTGRES_HOST} as ${values.AZURE_POSTGRES_ADMIN_NAME}: ${message}${hint}`);
  } finally {
    removeRule();
    for (const signal of signals) process.off(signal, onSignal);
  }
}
