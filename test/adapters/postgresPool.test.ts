import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, postgresTokenScope } from '../../src/adapters/postgresPool.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * Stands in for Entra (unreachable here): hands out the test server's real password as the "token", so the
 * real server checks what pg sends. `valid` toggles whether the token it issues is the right one.
 */
class PasswordCredential implements TokenCredential {
  scopes: string[] = [];
  valid = true;
  constructor(private readonly password: string, private readonly clock: { now: number }) {}
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(String(scopes));
    return { token: this.valid ? this.password : 'expired-token', expiresOnTimestamp: this.clock.now + 3_600_000 };
  }
}

describe('createPool', () => {
  let db: TestDatabase;
  let url: URL;
  beforeAll(async () => {
    db = await createTestDatabase('pool');
    url = new URL(db.url);
  });
  afterAll(async () => db.drop());

  it('connects with DATABASE_URL as given', async () => {
    const pool = createPool({ kind: 'url', url: db.url }, { max: 2 });
    try {
      const { rows } = await pool.query<{ name: string }>('SELECT current_database() AS name');
      expect(rows[0]!.name).toBe(url.pathname.slice(1));
    } finally {
      await pool.end();
    }
  });

  it('uses an Entra token as the password, asks once for many connections, and refreshes for new connections', async () => {
    const clock = { now: 0 };
    const credential = new PasswordCredential(decodeURIComponent(url.password), clock);
    const settings = {
      kind: 'entra' as const,
      host: url.hostname,
      port: Number(url.port),
      database: url.pathname.slice(1),
      user: decodeURIComponent(url.username),
      sslMode: 'disable' as const,
    };
    const pool = createPool(settings, { max: 3, credential, now: () => clock.now });
    try {
      const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
      const pids = await Promise.all(clients.map(async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
      expect(new Set(pids).size).toBe(3);
      expect(credential.scopes).toEqual([postgresTokenScope]);

      // Past the refresh margin a new connection gets a new token; the server rejects a bad one, proving it is sent.
      clients.forEach((client) => client.release(true));
      clock.now += 3_600_000;
      credential.valid = false;
      await expect(pool.query('SELECT 1')).rejects.toThrow(/password authentication failed/);
      expect(credential.scopes).toHaveLength(2);
      clock.now += 3_600_000;
      credential.valid = true;
      const { rows } = await pool.query<{ user: string }>('SELECT current_user AS user');
      expect(rows[0]!.user).toBe(settings.user);
      expect(credential.scopes).toHaveLength(3);
    } finally {
      await pool.end();
    }
  });

  it('prefers a configured static password over a token', async () => {
    const credential = new PasswordCredential('unused', { now: 0 });
    const pool = createPool(
      {
        kind: 'entra',
        host: url.hostname,
        port: Number(url.port),
        database: url.pathname.slice(1),
        user: decodeURIComponent(url.username),
        sslMode: 'disable',
        password: decodeURIComponent(url.password),
      },
      { max: 1, credential },
    );
    try {
      await pool.query('SELECT 1');
      expect(credential.scopes).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});
