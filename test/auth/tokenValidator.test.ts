import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenValidator, type Authenticate } from '../../src/auth/tokenValidator.js';
import { startIssuer, type RunningIssuer } from '../../local/src/issuer/issuerServer.js';
import { loadOrCreateSigningKey, type SigningKey } from '../../local/src/issuer/signingKey.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../local/src/issuer/tokens.js';

/** Real tokens from the local issuer, keys fetched from its JWKS endpoint over HTTP, as the app does on Azure. */
describe('bearer token validation', () => {
  let dir: string;
  let issuer: RunningIssuer;
  let key: SigningKey;
  let otherKey: SigningKey;
  let authenticate: Authenticate;
  const bearer = (token: string) => `Bearer ${token}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bulkflow-issuer-'));
    key = await loadOrCreateSigningKey(join(dir, 'a'));
    otherKey = await loadOrCreateSigningKey(join(dir, 'b'));
    issuer = await startIssuer(key);
    authenticate = createTokenValidator({ issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, jwksUrl: issuer.jwksUrl });
  });
  afterAll(async () => {
    await issuer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a valid token and maps its roles to the principal', async () => {
    const result = await authenticate(bearer(await issuer.mint({ states: ['ca', 'TX'], clientId: 'app-ca', callerId: 'sp-ca' })));
    expect(result).toEqual({ ok: true, principal: { callerId: 'sp-ca', clientId: 'app-ca', states: ['CA', 'TX'], operator: false, admin: false } });
    const operator = await authenticate(bearer(await issuer.mint({ operator: true })));
    expect(operator).toMatchObject({ ok: true, principal: { states: [], operator: true } });
  });

  it('keeps the key it signed with across restarts of the stack (same data directory)', async () => {
    const again = await loadOrCreateSigningKey(join(dir, 'a'));
    expect(again.kid).toBe(key.kid);
    expect(otherKey.kid).not.toBe(key.kid);
  });

  it.each([
    ['no header', null, 'missing', 'no bearer token'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'invalid', 'the Authorization header is not a bearer token'],
    ['not a JWT', 'Bearer abc.def', 'invalid', 'the token is malformed'],
  ])('refuses %s', async (_name, header, error, reason) => {
    expect(await authenticate(header)).toEqual({ ok: false, error, reason });
  });

  it('refuses expired, not yet valid, wrong audience and wrong issuer tokens', async () => {
    const expect401 = async (token: string, reason: string) => expect(await authenticate(bearer(token))).toEqual({ ok: false, error: 'invalid', reason });
    await expect401(await issuer.mint({ states: ['CA'], expiresInSeconds: -3600 }), 'the token has expired');
    await expect401(await issuer.mint({ states: ['CA'], audience: 'api://someone-else' }), "the token's aud claim is not accepted");
    await expect401(await issuer.mint({ states: ['CA'], issuer: 'https://login.microsoftonline.com/other/v2.0' }), "the token's iss claim is not accepted");
    const now = Math.floor(Date.now() / 1000);
    const future = await new SignJWT({ azp: 'a', oid: 'a', roles: ['State.CA'] })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(LOCAL_ISSUER).setAudience(LOCAL_AUDIENCE).setNotBefore(now + 3600).setExpirationTime(now + 7200)
      .sign(key.privateKey);
    await expect401(future, "the token's nbf claim is not accepted");
  });

  it('refuses a tampered payload, a foreign key, an unsigned token and a token without exp', async () => {
    const token = await issuer.mint({ states: ['CA'] });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const widened = Buffer.from(JSON.stringify({ ...claims, roles: ['State.CA', 'State.TX', 'Operator.Read'] })).toString('base64url');
    expect(await authenticate(bearer(`${header}.${widened}.${signature}`))).toEqual({ ok: false, error: 'invalid', reason: 'the token signature is not valid' });
    // Signed by another key under the issuer's key id: the signature check fails.
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(otherKey.privateKey);
    expect(await authenticate(bearer(forged))).toEqual({ ok: false, error: 'invalid', reason: 'the token signature is not valid' });
    // Signed by another key with its own key id: not one of the issuer's keys.
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: otherKey.kid }).sign(otherKey.privateKey);
    expect(await authenticate(bearer(foreign))).toEqual({ ok: false, error: 'invalid', reason: 'the token is not signed by a key of the issuer' });
    const unsigned = new UnsecuredJWT(claims).encode();
    expect(await authenticate(bearer(unsigned))).toMatchObject({ ok: false, error: 'invalid' });
    const { exp: _, ...noExp } = claims;
    const endless = await new SignJWT(noExp).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
    expect(await authenticate(bearer(endless))).toEqual({ ok: false, error: 'invalid', reason: "the token's exp claim is not accepted" });
  });

  it('refuses a valid signature over claims that name no caller', async () => {
    const now = Math.floor(Date.now() / 1000);
    const anonymous = await new SignJWT({ roles: ['State.CA'] })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(LOCAL_ISSUER).setAudience(LOCAL_AUDIENCE).setNotBefore(now).setExpirationTime(now + 600)
      .sign(key.privateKey);
    expect(await authenticate(bearer(anonymous))).toEqual({ ok: false, error: 'invalid', reason: 'the token names no caller (oid/sub) or client (azp/appid)' });
  });
});
