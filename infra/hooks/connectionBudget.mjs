// @ts-check
/**
 * The PostgreSQL connection budget, before anything is deployed (README "Connection budget"): the same sum as
 * main.bicep (test/infra/consistency.test.ts holds the two together), from the values azd will pass: the azd
 * environment where main.parameters.json maps one, else the parameter's default in main.bicep.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HookError } from './az.mjs';

const bicep = join(dirname(fileURLToPath(import.meta.url)), '..', 'bicep');

/** Always-ready instances of the durable group (durableAlwaysReady in main.bicep). */
export const durableAlwaysReady = 1;

/**
 * The parameter values the deployment will use: `${NAME}` of main.parameters.json from the environment when set
 * (azd leaves a parameter out when its variable is unset), otherwise the literal default in main.bicep.
 * @param {NodeJS.ProcessEnv} env
 * @param {string[]} names
 * @returns {Record<string, string>}
 */
export function parameterValues(env, names) {
  const file = /** @type {{ parameters: Record<string, { value: string }> }} */ (
    JSON.parse(readFileSync(join(bicep, 'main.parameters.json'), 'utf8'))
  );
  const main = readFileSync(join(bicep, 'main.bicep'), 'utf8');
  return Object.fromEntries(
    names.map((name) => {
      const variable = /^\$\{(\w+)\}$/.exec(file.parameters[name]?.value ?? '')?.[1];
      const fromEnv = variable ? env[variable] : undefined;
      if (fromEnv) return [name, fromEnv];
      const fallback = new RegExp(`^param ${name} \\w+ = '?([^'\\n]*)'?$`, 'm').exec(main)?.[1];
      if (fallback === undefined) throw new HookError(`main.bicep has no default for ${name}`);
      return [name, fallback];
    }),
  );
}

/**
 * @param {{ maximumInstanceCount: number, dbPoolMax: number, eventHubPartitionCount: number, postgresSkuName: string, postgresMaxConnections: number, postgresReservedConnections: number }} p
 */
export function connectionBudget(p) {
  const defaults = /** @type {Record<string, number>} */ (JSON.parse(readFileSync(join(bicep, 'postgresMaxConnections.json'), 'utf8')));
  const maxConnections = p.postgresMaxConnections > 0 ? p.postgresMaxConnections : (defaults[p.postgresSkuName] ?? 0);
  const instances = 2 * p.maximumInstanceCount + durableAlwaysReady + Math.min(p.maximumInstanceCount, p.eventHubPartitionCount) + 2;
  const worstCase = p.dbPoolMax * instances;
  return { maxConnections, instances, worstCase, headroom: maxConnections - p.postgresReservedConnections - worstCase };
}

/**
 * Refuses a deployment whose worst case exceeds the server's connections, naming the numbers and the knobs.
 * @param {NodeJS.ProcessEnv} env
 */
export function checkConnectionBudget(env) {
  const raw = parameterValues(env, ['maximumInstanceCount', 'dbPoolMax', 'eventHubPartitionCount', 'postgresSkuName', 'postgresMaxConnections', 'postgresReservedConnections']);
  /** @param {string} name */
  const int = (name) => {
    const value = Number(raw[name]);
    if (!Number.isInteger(value)) throw new HookError(`${name} must be a whole number, not ${JSON.stringify(raw[name])}`);
    return value;
  };
  const p = {
    maximumInstanceCount: int('maximumInstanceCount'),
    dbPoolMax: int('dbPoolMax'),
    eventHubPartitionCount: int('eventHubPartitionCount'),
    postgresSkuName: raw.postgresSkuName ?? '',
    postgresMaxConnections: int('postgresMaxConnections'),
    postgresReservedConnections: int('postgresReservedConnections'),
  };
  const budget = connectionBudget(p);
  if (budget.maxConnections === 0) {
    throw new HookError(`no known max_connections for PostgreSQL SKU ${p.postgresSkuName}: set POSTGRES_MAX_CONNECTIONS (azd env set) to the server's value`);
  }
  if (budget.headroom < 0) {
    throw new HookError(
      `connection budget exceeded: ${p.dbPoolMax} connections x ${budget.instances} instances = ${budget.worstCase}, but ${p.postgresSkuName} allows ` +
        `${budget.maxConnections} - ${p.postgresReservedConnections} reserved = ${budget.maxConnections - p.postgresReservedConnections}. ` +
        'Lower MAXIMUM_INSTANCE_COUNT or DB_POOL_MAX, or choose a larger POSTGRES_SKU_NAME',
    );
  }
  return budget;
}
