import type { AccessToken, TokenCredential } from '@azure/identity';

export interface TokenSourceOptions {
  /** Fetch a new token this long before the current one expires (default 5 minutes). */
  refreshMarginMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * A cached Entra access token: `get()` returns the cached token until it is within the refresh margin of
 * expiry (or past the credential's own refresh hint), then fetches a new one. Concurrent callers share one
 * request, so a pool opening many connections at once asks Entra once. A failed fetch is not cached.
 */
export function createTokenSource(credential: TokenCredential, scope: string, options: TokenSourceOptions = {}) {
  const refreshMarginMs = options.refreshMarginMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  let cached: AccessToken | undefined;
  let pending: Promise<string> | undefined;

  const isFresh = (token: AccessToken): boolean => {
    const refreshAt = Math.min(token.expiresOnTimestamp - refreshMarginMs, token.refreshAfterTimestamp ?? Infinity);
    return now() < refreshAt;
  };

  const fetchToken = async (): Promise<string> => {
    const token = await credential.getToken(scope);
    if (!token) throw new Error(`no Entra access token was returned for scope ${scope}`);
    cached = token;
    return token.token;
  };

  return {
    get(): Promise<string> {
      if (cached && isFresh(cached)) return Promise.resolve(cached.token);
      pending ??= fetchToken().finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}

export type TokenSource = ReturnType<typeof createTokenSource>;
