import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { principalFromClaims, type Principal } from './principal.js';

/** Where tokens come from and for whom: Entra ID on Azure, the local issuer locally. Only configuration differs. */
export interface TokenSettings {
  /** The `iss` every token must carry (Entra v2: `https://login.microsoftonline.com/{tenant}/v2.0`). */
  readonly issuer: string;
  /** The `aud` every token must carry: the API's app registration (its client id for v2 tokens). */
  readonly audience: string;
  /** The issuer's signing keys (Entra: `https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys`). */
  readonly jwksUrl: string;
}

export type Authentication =
  | { readonly ok: true; readonly principal: Principal }
  /** `missing`: no bearer token at all (RFC 6750: no error code then); `invalid`: a token we do not accept. */
  | { readonly ok: false; readonly error: 'missing' | 'invalid'; readonly reason: string };

/** Entra signs with RS256; accepting only it rules out `alg` downgrades (`none`, HMAC with the public key). */
const ALGORITHMS = ['RS256'];
/** Clock skew tolerated on exp/nbf, in seconds. */
const CLOCK_TOLERANCE_S = 60;
/** RFC 6750 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export type Authenticate = (authorization: string | null) => Promise<Authentication>;

/**
 * Validates a request's `Authorization: Bearer` token: signature against the issuer's published keys (fetched
 * and cached by jose, refetched when an unknown key id appears: Entra rotates keys), issuer, audience, exp, nbf.
 * The roles claim becomes the principal. The token itself is never logged or returned.
 */
export function createTokenValidator(settings: TokenSettings, keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(settings.jwksUrl))): Authenticate {
  return async (authorization) => {
    if (!authorization) return { ok: false, error: 'missing', reason: 'no bearer token' };
    const token = BEARER.exec(authorization.trim())?.[1];
    if (!token) return { ok: false, error: 'invalid', reason: 'the Authorization header is not a bearer token' };
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'nbf'],
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (error) {
      const reason = rejection(error);
      if (reason === undefined) throw error;
      return { ok: false, error: 'invalid', reason };
    }
    const principal = principalFromClaims(payload);
    if (!principal) return { ok: false, error: 'invalid', reason: 'the token names no caller (oid/sub) or client (azp/appid)' };
    return { ok: true, principal };
  };
}

/** Why a token is refused, in words safe to send back; undefined for faults that are ours (keys unreachable). */
function rejection(error: unknown): string | undefined {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token is not signed by a key of the issuer';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is not signed with RS256';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JOSENotSupported) {
    return 'the token is malformed';
  }
  return undefined;
}
