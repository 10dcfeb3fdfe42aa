import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

export interface SigningKey {
  /** Key id: the public key's RFC 7638 thumbprint, as the token header's `kid`. */
  kid: string;
  privateKey: CryptoKey;
  /** The public half as published in the JWKS. */
  publicJwk: JWK;
}

/** Where a data directory keeps the local issuer's key. */
export const signingKeyPath = (dataDir: string): string => join(dataDir, 'issuer', 'signing-key.json');

/**
 * The local issuer's RSA key, created on first use and kept under the data directory (`.data/issuer/`), so tokens
 * printed by `bulkflow token` stay valid across restarts of the stack. Readable by its owner only.
 */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const path = signingKeyPath(dataDir);
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    jwk = await exportJWK(privateKey);
    await mkdir(dirname(path), { recursive: true });
    // Written aside and renamed: a concurrent first start never reads half a key.
    const partial = `${path}.${process.pid}.tmp`;
    await writeFile(partial, JSON.stringify(jwk), { mode: 0o600 });
    await rename(partial, path);
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK;
  }
  const { kty, n, e } = jwk;
  const publicJwk: JWK = { kty, n, e };
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey: (await importJWK(jwk, 'RS256')) as CryptoKey, publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' } };
}
