import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, jwtVerify } from 'jose';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/token.js';
import { loadOrCreateSigningKey } from '../../src/issuer/signingKey.js';

const dir = await mkdtemp(join(tmpdir(), 'bulkflow-token-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function printed(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await run(args), out };
  } finally {
    write.mockRestore();
  }
}

describe('bulkflow token', () => {
  it('--data DIR: signs with the key of the stack started with that --data (a second stack)', async () => {
    // The stack creates its key on first start; here the key is there before, as after `bulkflow ingest --data DIR`.
    const stackKey = await loadOrCreateSigningKey(join(dir, 'second'));
    const { code, out } = await printed(['--state', 'CA', '--data', join(dir, 'second')]);
    expect(code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(out.trim(), await importJWK(stackKey.publicJwk, 'RS256'));
    expect(protectedHeader.kid).toBe(stackKey.kid);
    expect(payload.roles).toEqual(['State.CA']);
  });
});
