import { SignJWT } from 'jose';
import { OPERATOR_ADMIN_ROLE, OPERATOR_ROLE, stateRole } from '../../../src/auth/principal.js';
import type { SigningKey } from './signingKey.js';

/**
 * The local issuer's identity. The app receives these through the same settings Entra's values fill on Azure
 * (AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL). `.localhost` names never leave the machine.
 */
export const LOCAL_ISSUER = 'https://login.bulkflow.localhost/local/v2.0';
export const LOCAL_AUDIENCE = 'api://bulkflow-local';
/** The dashboard's client id at the local issuer (on Azure: the app registration's). */
export const LOCAL_DASHBOARD_CLIENT_ID = 'bulkflow-dashboard-local';

export interface TokenRequest {
  /** 2-letter codes; each becomes a `State.XX` role. */
  states?: readonly string[];
  operator?: boolean;
  /** Operator.Admin: acts on orchestrations (and reads as an operator). */
  admin?: boolean;
  /** The client application (`azp`); defaults to a name derived from the roles, like one app per state system. */
  clientId?: string;
  /** The caller's object id (`oid`); defaults to the client id, as for a client-credentials token. */
  callerId?: string;
  /** Lifetime in seconds (default one hour, Entra's usual). */
  ttlSeconds?: number;
  /** Seconds from now when the token stops being valid; negative gives an expired token (tests). */
  expiresInSeconds?: number;
  audience?: string;
  issuer?: string;
}

/** A signed access token shaped like Entra's v2 access tokens: iss, aud, azp, oid, sub, roles, iat, nbf, exp. */
export async function mintToken(key: SigningKey, request: TokenRequest): Promise<string> {
  const states = [...new Set((request.states ?? []).map((state) => state.toUpperCase()))].sort();
  for (const state of states) if (!/^[A-Z]{2}$/.test(state)) throw new Error(`"${state}" is not a 2-letter state code`);
  const roles = [...states.map(stateRole), ...(request.operator ? [OPERATOR_ROLE] : []), ...(request.admin ? [OPERATOR_ADMIN_ROLE] : [])];
  const operatorName = request.admin ? ['admin'] : request.operator ? ['operator'] : [];
  const clientId = request.clientId ?? `local-${[...states.map((s) => s.toLowerCase()), ...operatorName].join('-') || 'norole'}`;
  const now = Math.floor(Date.now() / 1000);
  const expires = now + (request.expiresInSeconds ?? request.ttlSeconds ?? 3600);
  const callerId = request.callerId ?? clientId;
  return new SignJWT({ azp: clientId, oid: callerId, roles, ver: '2.0' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
    .setIssuer(request.issuer ?? LOCAL_ISSUER)
    .setAudience(request.audience ?? LOCAL_AUDIENCE)
    .setSubject(callerId)
    .setIssuedAt(Math.min(now, expires - 60))
    .setNotBefore(Math.min(now, expires - 60))
    .setExpirationTime(expires)
    .sign(key.privateKey);
}
