// Signs the dashboard's user in with the authorization code flow and PKCE (a single-page app, no client secret)
// and keeps the access token for this tab only. On Azure the authority is Microsoft Entra ID; locally it is the
// local stack's issuer. Which one, and the client id and scope, come from config.json (the app's settings).
// The token is sent as `Authorization: Bearer` and never put in an address.

const TOKEN_KEY = 'bulkflow.token';
const PENDING_KEY = 'bulkflow.signIn';
/** Renew a little before expiry so a poll never goes out with a token about to lapse. */
const EXPIRY_MARGIN_MS = 60_000;

let configPromise;
/** { authority, clientId, scope } or null when the app has no sign-in configured. */
export function signInConfig() {
  configPromise ??= fetch(new URL('config.json', location.href), { cache: 'no-store' }).then((r) => r.json()).then((c) => c.signIn ?? null);
  return configPromise;
}

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const redirectUri = () => `${location.origin}${location.pathname}`;

/** The stored token when it is still good for a while, else undefined. */
function storedToken() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(TOKEN_KEY) ?? 'null');
    return stored && stored.expiresAt - EXPIRY_MARGIN_MS > Date.now() ? stored.accessToken : undefined;
  } catch {
    return undefined;
  }
}

/** Sends the browser to the authority's sign-in; the page comes back with ?code=&state=. */
export async function startSignIn() {
  const config = await signInConfig();
  if (!config) throw new Error('Sign-in is not configured for this app (DASHBOARD_AUTHORITY, DASHBOARD_CLIENT_ID, DASHBOARD_SCOPE).');
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  const url = new URL(`${config.authority}/oauth2/v2.0/authorize`);
  url.search = new URLSearchParams({
    client_id: config.clientId, response_type: 'code', redirect_uri: redirectUri(), scope: config.scope,
    state, code_challenge: challenge, code_challenge_method: 'S256', response_mode: 'query',
  }).toString();
  location.assign(url.href);
  return new Promise(() => {}); // the page is leaving
}

/** Redeems a ?code= the authority sent back; removes it from the address whatever happens. */
async function completeSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', `${location.pathname}${pending?.hash ?? ''}`);
  if (params.get('error')) throw new Error(`Sign-in failed: ${params.get('error_description') ?? params.get('error')}`);
  if (!pending || pending.state !== params.get('state')) throw new Error('Sign-in failed: the answer does not belong to this sign-in. Reload to try again.');
  const config = await signInConfig();
  const response = await fetch(`${config.authority}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code', client_id: config.clientId, code: params.get('code'),
      redirect_uri: redirectUri(), code_verifier: pending.verifier, scope: config.scope,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) throw new Error(`Sign-in failed: ${body.error_description ?? body.error ?? `HTTP ${response.status}`}`);
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ accessToken: body.access_token, expiresAt: Date.now() + Number(body.expires_in ?? 3600) * 1000 }));
}

/** A token for the API: the stored one, one redeemed from a sign-in that just came back, or (leaving) a new sign-in. */
export async function accessToken() {
  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) await completeSignIn(params);
  return storedToken() ?? startSignIn();
}

/** Forgets the token (after the API refused it, or on sign-out). */
export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Who the token says the user is, for display only: the API checks the token itself. */
export function signedInAs() {
  const token = storedToken();
  if (!token) return null;
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    const roles = Array.isArray(claims.roles) ? claims.roles : [];
    return {
      name: claims.name ?? claims.preferred_username ?? null,
      states: roles.filter((r) => /^State\.[A-Z]{2}$/.test(r)).map((r) => r.slice(6)),
      operator: roles.includes('Operator.Read') || roles.includes('Operator.Admin'),
      admin: roles.includes('Operator.Admin'),
    };
  } catch {
    return null;
  }
}
