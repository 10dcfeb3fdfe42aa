import { resolve } from 'node:path';
import { loadOrCreateSigningKey } from '../issuer/signingKey.js';
import { mintToken } from '../issuer/tokens.js';
import { appPackagePath } from '../packageRoot.js';
import { parseCommandLine } from './args.js';

const USAGE = 'usage: bulkflow token --state XX [--state YY ...] | --operator [--ttl SECONDS] [--data DIR (the stack\'s, default .data)]';

/**
 * `bulkflow token --state CA` / `--operator`: prints a bearer token the local stack accepts, signed with the
 * local issuer's key in .data/issuer/ (or DIR/issuer/ with `--data DIR`, for a stack started with the same
 * `--data`; created here if the stack has not run yet). Use it as
 * `curl -H "Authorization: Bearer $(npx bulkflow token --state CA)" http://localhost:7071/api/states`.
 */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args,
    options: { state: { type: 'string', multiple: true }, operator: { type: 'boolean', default: false }, ttl: { type: 'string', default: '3600' }, data: { type: 'string' } },
  }, USAGE);
  if (!parsed) return 2;
  const { values } = parsed;
  const states = values.state ?? [];
  const ttlSeconds = Number(values.ttl);
  if ((states.length === 0) === !values.operator || !states.every((s) => /^[A-Za-z]{2}$/.test(s)) || !Number.isInteger(ttlSeconds) || ttlSeconds < 60) {
    console.error(`${USAGE}\n  a state role (--state, repeatable: 2-letter codes) or the operator role, not both; --ttl of at least 60`);
    return 2;
  }
  const key = await loadOrCreateSigningKey(values.data ? resolve(values.data) : appPackagePath('.data'));
  process.stdout.write(`${await mintToken(key, values.operator ? { operator: true, ttlSeconds } : { states, ttlSeconds })}\n`);
  return 0;
}
