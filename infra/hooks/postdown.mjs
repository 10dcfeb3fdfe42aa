// @ts-check
/**
 * postdown: `azd down` deletes the resource group, but the Entra objects the deployment made live in the tenant: the
 * API's app registration (its service principal goes with it) and, when the deployment created it, the PostgreSQL
 * administrator group. Both are deleted and then purged from the tenant's deleted items, which would otherwise keep
 * their uniqueName reserved for 30 days and block an `azd up` of the same environment. KEEP_ENTRA_OBJECTS=true
 * keeps them (for example to recreate the environment with the same client id).
 */
import { azFor } from './az.mjs';

/** @param {NodeJS.ProcessEnv} env */
export async function postdown(env) {
  if (env.KEEP_ENTRA_OBJECTS === 'true') {
    console.log('postdown: KEEP_ENTRA_OBJECTS=true, the app registration and admin group stay');
    return;
  }
  const az = azFor(env);
  const graph = az(['cloud', 'show', '--query', 'endpoints.microsoftGraphResourceId', '--output', 'tsv'], { scope: 'none' }).replace(/\/?$/, '/');
  /**
   * @param {string} what
   * @param {string[]} show
   * @param {string[]} remove
   */
  const purge = (what, show, remove) => {
    const id = az([...show, '--query', 'id', '--output', 'tsv'], { scope: 'none' });
    az(remove, { scope: 'none' });
    az(['rest', '--method', 'DELETE', '--uri', `${graph}v1.0/directory/deletedItems/${id}`], { scope: 'none' });
    console.log(`postdown: ${what} deleted and purged`);
  };
  if (env.AZURE_API_CLIENT_ID) {
    purge(`app registration ${env.AZURE_API_CLIENT_ID}`, ['ad', 'app', 'show', '--id', env.AZURE_API_CLIENT_ID], ['ad', 'app', 'delete', '--id', env.AZURE_API_CLIENT_ID]);
  }
  if (env.POSTGRES_ADMIN_GROUP_CREATED === 'true' && env.POSTGRES_ADMIN_GROUP_OBJECT_ID) {
    const group = env.POSTGRES_ADMIN_GROUP_OBJECT_ID;
    purge(`PostgreSQL admin group ${group}`, ['ad', 'group', 'show', '--group', group], ['ad', 'group', 'delete', '--group', group]);
  }
}
