// @ts-check
/**
 * preprovision: tells the templates who runs azd. azd fills AZURE_PRINCIPAL_ID; the kind of principal (a user at a
 * desk, a service principal in CI) decides role assignments' principalType, and its name is what PostgreSQL knows
 * its Entra administrator by. Values the operator set already are kept.
 */
import { azdEnvSet, azFor, HookError } from './az.mjs';

/** @param {NodeJS.ProcessEnv} env */
export async function preprovision(env) {
  if (env.AZURE_PRINCIPAL_TYPE && env.AZURE_PRINCIPAL_NAME) return;
  const az = azFor(env);
  const account = /** @type {{ user?: { name?: string, type?: string } }} */ (JSON.parse(az(['account', 'show', '--output', 'json'])));
  /** @type {{ type: string, name: string, objectId: string }} */
  let principal;
  if (account.user?.type === 'user') {
    const user = JSON.parse(az(['ad', 'signed-in-user', 'show', '--output', 'json'], { scope: 'none' }));
    principal = { type: 'User', name: user.userPrincipalName, objectId: user.id };
  } else if (account.user?.type === 'servicePrincipal' && account.user.name) {
    const sp = JSON.parse(az(['ad', 'sp', 'show', '--id', account.user.name, '--output', 'json'], { scope: 'none' }));
    principal = { type: 'ServicePrincipal', name: sp.displayName, objectId: sp.id };
  } else {
    throw new HookError(`cannot tell who az is signed in as (account user type ${JSON.stringify(account.user?.type)}); set AZURE_PRINCIPAL_TYPE and AZURE_PRINCIPAL_NAME with azd env set`);
  }
  // The PostgreSQL administrator is created for AZURE_PRINCIPAL_ID under this name: both must be one principal.
  if (env.AZURE_PRINCIPAL_ID && env.AZURE_PRINCIPAL_ID !== principal.objectId) {
    throw new HookError(
      `azd runs as ${env.AZURE_PRINCIPAL_ID} but az is signed in as ${principal.name} (${principal.objectId}): sign both in as the same principal (azd auth login, az login)`,
    );
  }
  if (!env.AZURE_PRINCIPAL_TYPE) azdEnvSet(env, 'AZURE_PRINCIPAL_TYPE', principal.type);
  if (!env.AZURE_PRINCIPAL_NAME) azdEnvSet(env, 'AZURE_PRINCIPAL_NAME', principal.name);
  console.log(`preprovision: deploying as ${principal.type} ${principal.name}`);
}
