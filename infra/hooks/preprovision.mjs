// @ts-check
/**
 * preprovision: checks, before anything is deployed, that
 *   1. azd and az are signed in as the same principal. azd resolves AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE for
 *      the template's parameters from its own sign-in and never passes them to hooks, while the hooks act through
 *      az: the deployer azd makes a member of the PostgreSQL admin group must be the one predeploy signs in as.
 *      `azd auth status --output json` says who azd is, `az account show` who az is.
 *   2. the PostgreSQL connection budget holds (connectionBudget.mjs).
 */
import { spawnSync } from 'node:child_process';
import { azFor, HookError } from './az.mjs';
import { checkConnectionBudget } from './connectionBudget.mjs';

/**
 * Who azd is signed in as: a user's account name or a service principal's client id.
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ type: 'user' | 'servicePrincipal', name: string }}
 */
function azdPrincipal(env) {
  const result = spawnSync(process.platform === 'win32' ? 'azd.exe' : 'azd', ['auth', 'status', '--output', 'json'], { encoding: 'utf8', env });
  if (result.error) throw new HookError(`azd could not be started: ${result.error.message}`);
  /** @type {{ status?: string, type?: string, email?: string, clientId?: string }} */
  let status = {};
  try {
    status = JSON.parse(result.stdout);
  } catch {
    throw new HookError(`\`azd auth status --output json\` failed (exit ${result.status}): update azd (1.23 or newer has it).\n${result.stderr.trim()}`);
  }
  if (status.status !== 'authenticated') throw new HookError('azd is not signed in: run azd auth login');
  if (status.type === 'user' && status.email) return { type: 'user', name: status.email };
  if (status.type === 'servicePrincipal' && status.clientId) return { type: 'servicePrincipal', name: status.clientId };
  throw new HookError(`cannot tell who azd is signed in as (${result.stdout.trim()})`);
}

/**
 * Who az is signed in as, in the same terms (a managed identity's client id from assignedIdentityInfo).
 * @param {import('./az.mjs').Az} az
 * @returns {{ type: string, name: string }}
 */
function azPrincipal(az) {
  const account = /** @type {{ user?: { name?: string, type?: string, assignedIdentityInfo?: string } }} */ (JSON.parse(az(['account', 'show', '--output', 'json'])));
  const managed = /^MSIClient-(.+)$/.exec(account.user?.assignedIdentityInfo ?? '')?.[1];
  return { type: account.user?.type ?? '(unknown)', name: managed ?? account.user?.name ?? '(unknown)' };
}

/** @param {NodeJS.ProcessEnv} env */
export async function preprovision(env) {
  if (env.AZURE_POSTGRES_ADMIN_GROUP_ID && !env.AZURE_POSTGRES_ADMIN_GROUP_NAME) {
    throw new HookError('AZURE_POSTGRES_ADMIN_GROUP_ID is set without AZURE_POSTGRES_ADMIN_GROUP_NAME: set the group\'s display name too (members sign in to PostgreSQL as it)');
  }
  const budget = checkConnectionBudget(env);
  const az = azFor(env);
  const azd = azdPrincipal(env);
  const cli = azPrincipal(az);
  if (azd.type !== cli.type || azd.name.toLowerCase() !== cli.name.toLowerCase()) {
    throw new HookError(
      `azd is signed in as ${azd.type} ${azd.name} but az as ${cli.type} ${cli.name}: sign both in as the same principal (azd auth login, az login), ` +
        'or let azd use the CLI\'s sign-in (azd config set auth.useAzCliAuth true)',
    );
  }
  console.log(`preprovision: deploying as ${azd.type} ${azd.name}; worst case ${budget.worstCase} PostgreSQL connections, headroom ${budget.headroom}`);
}
