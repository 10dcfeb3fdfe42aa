import { describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/engine/db.js';
import { useEngineDatabase } from '../support/engineDatabase.js';

// A PostgreSQL restart or failover while a chunk commit awaits its blob: the commit must fail (and be retried),
// not end the worker process with an uncaught 'error' event.
describe('a connection cut in the middle of a transaction', () => {
  const engine = useEngineDatabase();

  it('rejects the transaction, leaves the process running and the pool usable', async () => {
    let work: 'ran' | 'reached the next query' = 'ran';
    const transaction = withTransaction(engine.pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await engine.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      // The server's FATAL arrives while no query runs on this client.
      await new Promise((done) => setTimeout(done, 300));
      work = 'reached the next query';
      await client.query('SELECT 1');
    });
    await expect(transaction).rejects.toThrow();
    expect(work).toBe('reached the next query');
    const { rows } = await engine.pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);
  });
});
