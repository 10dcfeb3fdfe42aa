import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, purgeRateLimits } from '../../src/auth/rateLimiter.js';
import { migrate } from '../../src/engine/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('per-caller rate limit in PostgreSQL', () => {
  let database: TestDatabase;
  let a: pg.Pool;
  let b: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase('ratelimit');
    await migrate(database.url);
    // Two pools stand for two app instances: the counter is the database's, not a process's.
    a = new pg.Pool({ connectionString: database.url, max: 4 });
    b = new pg.Pool({ connectionString: database.url, max: 4 });
  });
  afterAll(async () => {
    await Promise.all([a.end(), b.end()]);
    await database.drop();
  });

  it('lets 60 requests a minute through across instances and refuses the 61st with the seconds left', async () => {
    const limitA = createRateLimiter(a, { limit: 60 });
    const limitB = createRateLimiter(b, { limit: 60 });
    const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? limitA : limitB)('caller-1')));
    expect(decisions.every((d) => d.allowed)).toBe(true);
    const refused = await limitB('caller-1');
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) {
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(50);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    }
    expect((await limitA('caller-1')).allowed).toBe(false);
    // Another caller has its own budget.
    expect((await limitA('caller-2')).allowed).toBe(true);
  });

  it('opens a new window once the last one has passed', async () => {
    const limit = createRateLimiter(a, { limit: 2, windowMs: 400 });
    expect((await limit('short')).allowed).toBe(true);
    expect((await limit('short')).allowed).toBe(true);
    const refused = await limit('short');
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 });
    await new Promise((done) => setTimeout(done, 450));
    expect((await limit('short')).allowed).toBe(true);
  });

  it('purges the counters of callers whose window started longer ago than asked, and keeps the others counting', async () => {
    const limit = createRateLimiter(a, { limit: 2 });
    await limit('recent');
    await limit('recent');
    await limit('stale');
    await a.query(`UPDATE bulkflow.api_rate_limits SET window_start = now() - interval '2 hours' WHERE caller = 'stale'`);
    expect(await purgeRateLimits(b, 3_600_000)).toBe(1);
    const { rows } = await a.query<{ caller: string }>(`SELECT caller FROM bulkflow.api_rate_limits WHERE caller IN ('recent', 'stale')`);
    expect(rows.map((r) => r.caller)).toEqual(['recent']);
    // The recent caller's window still counts.
    expect((await limit('recent')).allowed).toBe(false);
    expect(await purgeRateLimits(b, 3_600_000)).toBe(0);
  });
});
