import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIssuer, type RunningIssuer } from '../../src/issuer/issuerServer.js';
import { loadOrCreateSigningKey, signingKeyPath } from '../../src/issuer/signingKey.js';
import { LOCAL_AUDIENCE, LOCAL_DASHBOARD_CLIENT_ID, LOCAL_ISSUER } from '../../src/issuer/tokens.js';

const REDIRECT = 'http://localhost:7071/api/dashboard/';

describe('local issuer: JWKS and the authorization code flow with PKCE', () => {
  let dir: string;
  let issuer: RunningIssuer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bulkflow-issuer-'));
    issuer = await startIssuer(await loadOrCreateSigningKey(dir));
  });
  afterAll(async () => {
    await issuer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };
  const authorizeParams = (challenge: string) => new URLSearchParams({
    client_id: LOCAL_DASHBOARD_CLIENT_ID, redirect_uri: REDIRECT, response_type: 'code', scope: `${LOCAL_AUDIENCE}/user_impersonation`,
    state: 'xyz', code_challenge: challenge, code_challenge_method: 'S256',
  });
  async function signIn(challenge: string, choice: Record<string, string>): Promise<string> {
    const response = await fetch(`${issuer.authority}/oauth2/v2.0/authorize`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ ...Object.fromEntries(authorizeParams(challenge)), ...choice }),
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe('xyz');
    return location.searchParams.get('code')!;
  }
  const redeem = (code: string, verifier: string) => fetch(`${issuer.authority}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: LOCAL_DASHBOARD_CLIENT_ID, redirect_uri: REDIRECT, code, code_verifier: verifier }),
  });

  it('keeps its key readable by its owner only and publishes the public half', async () => {
    expect((await stat(signingKeyPath(dir))).mode & 0o077).toBe(0);
    const jwks = (await (await fetch(issuer.jwksUrl)).json()) as { keys: Array<Record<string, string>> };
    expect(jwks.keys).toHaveLength(1);
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  it('shows a sign-in page and turns the choice into a code, the code and its verifier into a token', async () => {
    const { verifier, challenge } = pkce();
    const page = await fetch(`${issuer.authority}/oauth2/v2.0/authorize?${authorizeParams(challenge)}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Sign in as a state user');
    const code = await signIn(challenge, { as: 'state', states: 'ca, tx' });
    const response = await redeem(code, verifier);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const { access_token: token } = (await response.json()) as { access_token: string };
    expect(decodeJwt(token)).toMatchObject({ iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, azp: LOCAL_DASHBOARD_CLIENT_ID, roles: ['State.CA', 'State.TX'] });
    // Single use.
    expect((await redeem(code, verifier)).status).toBe(400);
  });

  it('refuses a wrong verifier, a foreign redirect address and an unknown client', async () => {
    const { challenge } = pkce();
    const code = await signIn(challenge, { as: 'operator' });
    expect(await (await redeem(code, pkce().verifier)).json()).toEqual({ error: 'invalid_grant' });
    const foreign = new URLSearchParams({ ...Object.fromEntries(authorizeParams(challenge)), redirect_uri: 'https://evil.example/' });
    expect((await fetch(`${issuer.authority}/oauth2/v2.0/authorize?${foreign}`, { redirect: 'manual' })).status).toBe(400);
    const client = new URLSearchParams({ ...Object.fromEntries(authorizeParams(challenge)), client_id: 'other' });
    expect((await fetch(`${issuer.authority}/oauth2/v2.0/authorize?${client}`, { redirect: 'manual' })).status).toBe(400);
    const badStates = await fetch(`${issuer.authority}/oauth2/v2.0/authorize`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ ...Object.fromEntries(authorizeParams(challenge)), as: 'state', states: 'California' }),
    });
    expect(badStates.status).toBe(400);
    expect(await badStates.text()).toContain('2-letter state codes');
    // Two letters are not a state: XX is no jurisdiction the program serves.
    const unknown = await fetch(`${issuer.authority}/oauth2/v2.0/authorize`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ ...Object.fromEntries(authorizeParams(challenge)), as: 'state', states: 'CA, XX' }),
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('state codes of jurisdictions the program serves');
  });
});
