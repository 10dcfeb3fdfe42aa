import { readFile } from 'node:fs/promises';

/** One event hub as the infra declares it (partitions, retention, consumer groups). */
export interface HubConfig {
  partitions: number;
  retentionMs: number;
  consumerGroups: string[];
}

export type HubsConfig = Record<string, HubConfig>;

export const DEFAULT_CONSUMER_GROUP = '$Default';

/** Checks a hubs config (from code or `eventhubs.local.json`), naming the first bad field. */
export function validateHubsConfig(value: unknown, source = 'hubs config'): HubsConfig {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${source}: expected an object of hubs by name`);
  const hubs: HubsConfig = {};
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/.test(name)) throw new Error(`${source}: invalid hub name "${name}"`);
    const hub = raw as Partial<HubConfig> | null;
    if (!hub || typeof hub !== 'object') throw new Error(`${source}: hub "${name}" must be an object`);
    const { partitions, retentionMs, consumerGroups = [DEFAULT_CONSUMER_GROUP] } = hub;
    if (!Number.isInteger(partitions) || (partitions as number) < 1 || (partitions as number) > 32) {
      throw new Error(`${source}: hub "${name}" partitions must be an integer from 1 to 32`);
    }
    if (typeof retentionMs !== 'number' || !(retentionMs > 0)) {
      throw new Error(`${source}: hub "${name}" retentionMs must be a positive number of milliseconds`);
    }
    if (!Array.isArray(consumerGroups) || consumerGroups.some((group) => typeof group !== 'string' || group.length === 0)) {
      throw new Error(`${source}: hub "${name}" consumerGroups must be a list of names`);
    }
    const groups = consumerGroups.some((group) => group.toLowerCase() === DEFAULT_CONSUMER_GROUP.toLowerCase())
      ? consumerGroups
      : [DEFAULT_CONSUMER_GROUP, ...consumerGroups];
    hubs[name] = { partitions: partitions as number, retentionMs, consumerGroups: groups };
  }
  return hubs;
}

/** Reads a hubs config file: `{ "hubs": { "<name>": { partitions, retentionMs, consumerGroups } } }`. */
export async function loadHubsConfig(path: string): Promise<HubsConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read Event Hubs config ${path}: ${(error as Error).message}`);
  }
  return validateHubsConfig((parsed as { hubs?: unknown } | null)?.hubs, path);
}
