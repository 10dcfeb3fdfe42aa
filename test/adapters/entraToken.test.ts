import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { createTokenSource } from '../../src/adapters/entraToken.js';

/** The one fake allowed here: Entra is unreachable from tests. Issues numbered tokens valid for `lifetimeMs`. */
class CountingCredential implements TokenCredential {
  calls = 0;
  scopes: string[] = [];
  failNext = false;
  constructor(private readonly clock: { now: number }, private readonly lifetimeMs: number, private readonly refreshAfterMs?: number) {}
  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
    this.calls += 1;
    this.scopes.push(String(scopes));
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('token endpoint unavailable');
    }
    return {
      token: `token-${this.calls}`,
      expiresOnTimestamp: this.clock.now + this.lifetimeMs,
      ...(this.refreshAfterMs === undefined ? {} : { refreshAfterTimestamp: this.clock.now + this.refreshAfterMs }),
    };
  }
}

const hour = 3_600_000;
const minute = 60_000;

describe('createTokenSource', () => {
  it('reuses a token until the refresh margin before expiry, then fetches a new one', async () => {
    const clock = { now: 1_000_000 };
    const credential = new CountingCredential(clock, hour);
    const tokens = createTokenSource(credential, 'scope/.default', { now: () => clock.now, refreshMarginMs: 5 * minute });

    expect(await tokens.get()).toBe('token-1');
    clock.now += 54 * minute;
    expect(await tokens.get()).toBe('token-1');
    clock.now += 1 * minute; // now 5 minutes before expiry
    expect(await tokens.get()).toBe('token-2');
    expect(credential.scopes).toEqual(['scope/.default', 'scope/.default']);
  });

  it("honours the credential's refreshAfter hint when it comes earlier", async () => {
    const clock = { now: 0 };
    const credential = new CountingCredential(clock, 24 * hour, hour);
    const tokens = createTokenSource(credential, 's', { now: () => clock.now });
    await tokens.get();
    clock.now += hour - 1;
    expect(await tokens.get()).toBe('token-1');
    clock.now += 1;
    expect(await tokens.get()).toBe('token-2');
  });

  it('shares one request among concurrent callers', async () => {
    const clock = { now: 0 };
    const credential = new CountingCredential(clock, hour);
    const tokens = createTokenSource(credential, 's', { now: () => clock.now });
    const got = await Promise.all(Array.from({ length: 10 }, () => tokens.get()));
    expect(new Set(got)).toEqual(new Set(['token-1']));
    expect(credential.calls).toBe(1);
  });

  it('does not cache a failure: the next call asks again', async () => {
    const clock = { now: 0 };
    const credential = new CountingCredential(clock, hour);
    credential.failNext = true;
    const tokens = createTokenSource(credential, 's', { now: () => clock.now });
    await expect(tokens.get()).rejects.toThrow('token endpoint unavailable');
    expect(await tokens.get()).toBe('token-2');
  });
});
