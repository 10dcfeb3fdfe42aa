import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/database.js';

describe('test PostgreSQL', () => {
  const db = useTestDatabase();

  it('is a real server that supports what the engine relies on (PostgreSQL >= 16)', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number }>(
        `SELECT current_setting('server_version_num')::int AS version`,
      );
      expect(rows[0]!.version).toBeGreaterThanOrEqual(160000);
      const valid = await client.query<{ ok: boolean }>(`SELECT pg_input_is_valid('2024-02-30', 'date') AS ok`);
      expect(valid.rows[0]!.ok).toBe(false);
    } finally {
      await client.end();
    }
  });
});
