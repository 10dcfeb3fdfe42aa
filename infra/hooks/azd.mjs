#!/usr/bin/env node
// @ts-check
/**
 * The azd hooks of bulkflow, one script for Windows and POSIX: azure.yaml runs `node infra/hooks/azd.mjs <hook>`
 * from both its posix and windows variants. azd passes its environment (AZURE_SUBSCRIPTION_ID, AZURE_ENV_NAME, the
 * outputs of infra/bicep/main.bicep and whatever `azd env set` stored) as environment variables; not
 * AZURE_PRINCIPAL_ID, which it resolves only for the template's parameters.
 *
 *   preprovision  azd and az signed in as one principal; the PostgreSQL connection budget holds
 *   predeploy     migrations as the PostgreSQL administrator, and the app identity's login, before the code serves
 *   postdeploy    the Event Grid subscription of the starter function
 *   postdown      deletes and purges the app registration and the admin group azd down leaves in the tenant
 */
import { HookError } from './az.mjs';

/** @type {Record<string, () => Promise<(env: NodeJS.ProcessEnv) => Promise<void>>>} */
const hooks = {
  preprovision: async () => (await import('./preprovision.mjs')).preprovision,
  // Loaded only when it runs: it needs the project's node_modules, which it installs if missing.
  predeploy: async () => (await import('./predeploy.mjs')).predeploy,
  postdeploy: async () => (await import('./postdeploy.mjs')).postdeploy,
  postdown: async () => (await import('./postdown.mjs')).postdown,
};

const name = process.argv[2] ?? '';
const load = hooks[name];
if (!load) {
  console.error(`usage: node infra/hooks/azd.mjs <${Object.keys(hooks).join('|')}>`);
  process.exit(2);
}
try {
  await (await load())(process.env);
} catch (error) {
  if (!(error instanceof HookError)) throw error;
  console.error(`${name}: ${error.message}`);
  process.exit(1);
}
