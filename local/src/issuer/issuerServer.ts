import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jurisdictionOf } from '../../../src/engine/index.js';
import type { SigningKey } from './signingKey.js';
import { LOCAL_DASHBOARD_CLIENT_ID, LOCAL_ISSUER, mintToken, type TokenRequest } from './tokens.js';

/** Entra's URL layout under one tenant-like prefix, so the app and the dashboard take the same kind of settings. */
const TENANT = '/local';
const CODE_LIFETIME_MS = 5 * 60_000;

export interface RunningIssuer {
  /** Like `https://login.microsoftonline.com/{tenant}`: `/oauth2/v2.0/authorize`, `/oauth2/v2.0/token` below it. */
  authority: string;
  jwksUrl: string;
  /** Signs a token directly (the CLI and tests; the dashboard goes through the sign-in page). */
  mint(request: TokenRequest): Promise<string>;
  stop(): Promise<void>;
}

interface PendingCode {
  token: string;
  redirectUri: string;
  challenge: string;
  expiresAt: number;
}

/**
 * The local stand-in for Microsoft Entra ID (never deployed): publishes the signing key as a JWKS and runs the
 * authorization-code flow with PKCE that the dashboard uses on Azure, with a sign-in page where a developer picks
 * the state(s) or the operator role instead of entering a password.
 */
export async function startIssuer(key: SigningKey, options: { port?: number } = {}): Promise<RunningIssuer> {
  const codes = new Map<string, PendingCode>();
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', `local issuer: ${(error as Error).message}`);
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://issuer');
    const path = url.pathname;
    if (request.method === 'GET' && path === `${TENANT}/discovery/v2.0/keys`) {
      return send(response, 200, 'application/json', JSON.stringify({ keys: [key.publicJwk] }));
    }
    if (request.method === 'GET' && path === `${TENANT}/v2.0/.well-known/openid-configuration`) {
      return send(response, 200, 'application/json', JSON.stringify({
        issuer: LOCAL_ISSUER,
        authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
        token_endpoint: `${authority}/oauth2/v2.0/token`,
        jwks_uri: `${authority}/discovery/v2.0/keys`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256'],
      }));
    }
    if (path === `${TENANT}/oauth2/v2.0/authorize`) {
      const params = request.method === 'POST' ? new URLSearchParams(await readBody(request)) : url.searchParams;
      return authorize(request.method ?? 'GET', params, response);
    }
    if (request.method === 'GET' && path === `${TENANT}/oauth2/v2.0/logout`) {
      // Nothing to end here (no session is kept): back to where the dashboard asked to go.
      const back = url.searchParams.get('post_logout_redirect_uri') ?? '';
      if (!isLocalAddress(back)) return send(response, 400, 'text/plain; charset=utf-8', 'post_logout_redirect_uri must be a local address');
      response.writeHead(302, { location: back }).end();
      return;
    }
    if (request.method === 'POST' && path === `${TENANT}/oauth2/v2.0/token`) {
      return exchange(new URLSearchParams(await readBody(request)), response);
    }
    if (request.method === 'OPTIONS') return send(response, 204, 'text/plain', '');
    send(response, 404, 'text/plain; charset=utf-8', 'not found');
  }

  async function authorize(method: string, params: URLSearchParams, response: ServerResponse): Promise<void> {
    const redirectUri = params.get('redirect_uri') ?? '';
    // As Entra does: a bad client or redirect address gets an error page, never a redirect.
    if (params.get('client_id') !== LOCAL_DASHBOARD_CLIENT_ID) return send(response, 400, 'text/plain; charset=utf-8', `unknown client_id; the local dashboard is ${LOCAL_DASHBOARD_CLIENT_ID}`);
    if (!isLocalAddress(redirectUri)) return send(response, 400, 'text/plain; charset=utf-8', 'redirect_uri must be an http://localhost or http://127.0.0.1 address');
    if (params.get('response_type') !== 'code' || params.get('code_challenge_method') !== 'S256' || !params.get('code_challenge')) {
      return send(response, 400, 'text/plain; charset=utf-8', 'only response_type=code with a S256 code_challenge (PKCE) is supported');
    }
    // The form posts here and is then redirected to the dashboard: form-action must allow both (browsers check redirects).
    const pageHeaders = { ...PAGE_HEADERS, 'content-security-policy': `${PAGE_CSP}; form-action 'self' ${new URL(redirectUri).origin}` };
    if (method !== 'POST') return send(response, 200, 'text/html; charset=utf-8', signInPage(params), pageHeaders);
    const as = params.get('as');
    const states = (params.get('states') ?? '').split(/[\s,]+/).filter(Boolean);
    if (as === 'state' && (states.length === 0 || !states.every((s) => jurisdictionOf(s)))) {
      return send(response, 400, 'text/html; charset=utf-8', signInPage(params, 'Enter one or more 2-letter state codes of jurisdictions the program serves, such as CA or CA, TX.'), pageHeaders);
    }
    const operator = as === 'operator' || as === 'admin';
    const token = await mintToken(key, {
      ...(as === 'admin' ? { admin: true } : operator ? { operator: true } : { states }),
      clientId: LOCAL_DASHBOARD_CLIENT_ID,
      callerId: operator ? `local-user-${as}` : `local-user-${states.map((s) => s.toLowerCase()).sort().join('-')}`,
    });
    const code = randomBytes(24).toString('base64url');
    codes.set(code, { token, redirectUri, challenge: params.get('code_challenge')!, expiresAt: Date.now() + CODE_LIFETIME_MS });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    if (params.get('state')) target.searchParams.set('state', params.get('state')!);
    response.writeHead(302, { location: target.href, 'cache-control': 'no-store' }).end();
  }

  function exchange(params: URLSearchParams, response: ServerResponse): void {
    const code = params.get('code') ?? '';
    const pending = codes.get(code);
    codes.delete(code); // single use, whatever the outcome
    const verifier = params.get('code_verifier') ?? '';
    const fail = (error: string) => send(response, 400, 'application/json', JSON.stringify({ error }), CORS);
    if (params.get('grant_type') !== 'authorization_code') return fail('unsupported_grant_type');
    if (params.get('client_id') !== LOCAL_DASHBOARD_CLIENT_ID) return fail('invalid_client');
    if (!pending || pending.expiresAt < Date.now() || pending.redirectUri !== params.get('redirect_uri')) return fail('invalid_grant');
    if (createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) return fail('invalid_grant');
    send(response, 200, 'application/json', JSON.stringify({ token_type: 'Bearer', access_token: pending.token, expires_in: 3600 }), { ...CORS, 'cache-control': 'no-store' });
  }

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => done());
  });
  const authority = `http://127.0.0.1:${(server.address() as AddressInfo).port}${TENANT}`;
  return {
    authority,
    jwksUrl: `${authority}/discovery/v2.0/keys`,
    mint: (request) => mintToken(key, request),
    stop: () => new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    }),
  };
}

/** The dashboard exchanges its code from the browser, as a single-page app does with Entra. */
const CORS = { 'access-control-allow-origin': '*' };
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";
const PAGE_HEADERS = { 'cache-control': 'no-store' };

function isLocalAddress(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

function send(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': type, ...headers }).end(body);
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > 64 << 10) throw new Error('request too large');
  }
  return body;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInPage(params: URLSearchParams, problem?: string): string {
  const carried = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method']
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? '')}">`)
    .join('\n      ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Local sign-in · bulkflow</title>
  <style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}
  .note{background:#fff4ce;border-left:4px solid #8a6d00;padding:.5rem 1rem}input,button{font:inherit;margin:.25rem 0}
  .problem{color:#a4262c}</style>
</head>
<body>
  <main>
    <h1>Local sign-in</h1>
    <p class="note">Development only. This page stands in for Microsoft Entra ID on this machine: it signs you in
    with the roles you pick, without a password. On Azure, people sign in with their organisation account and the
    roles an operator assigned them.</p>
    ${problem ? `<p class="problem" role="alert">${escapeHtml(problem)}</p>` : ''}
    <form method="post">
      ${carried}
      <p><label for="states">State codes (a state user sees and uploads for these states only)</label><br>
      <input id="states" name="states" autocomplete="off" placeholder="CA" value="${escapeHtml(params.get('states') ?? '')}"></p>
      <p><button type="submit" name="as" value="state">Sign in as a state user</button></p>
      <p><button type="submit" name="as" value="operator">Sign in as an operator</button> (reads every state, uploads for none)</p>
      <p><button type="submit" name="as" value="admin">Sign in as an operator admin</button> (an operator who may also rewind, restart or terminate orchestrations)</p>
    </form>
  </main>
</body>
</html>
`;
}
