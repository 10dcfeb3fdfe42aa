import type pg from 'pg';
import { withTransaction } from './db.js';

/** A CloudEvent 1.0 as stored in the outbox (structured JSON form). */
export interface OutboxEvent {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  /** The URL of the data's JSON Schema (added on the way out: the outbox does not know the app's host name). */
  dataschema?: string;
  data: Record<string, unknown> & { state?: string };
}

/** Sends a batch; resolves only when every event is accepted by the broker. */
export type EventSender = (events: OutboxEvent[]) => Promise<void>;

/**
 * Delivers unsent outbox events in order, a batch at a time, and marks them sent in the same transaction
 * that locked them (SKIP LOCKED: concurrent sweepers never send a row twice at once). A failed send rolls
 * back, leaving the events for the next attempt; delivery is at-least-once, consumers dedupe by `id`.
 */
export async function deliverOutbox(pool: pg.Pool, send: EventSender, options: { batchSize?: number } = {}): Promise<number> {
  const batchSize = options.batchSize ?? 100;
  let delivered = 0;
  for (;;) {
    const sent = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ id: string; type: string; source: string; subject: string; time: Date; data: OutboxEvent['data'] }>(
        `SELECT id, type, source, subject, time, data FROM bulkflow.outbox
         WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize],
      );
      if (rows.length === 0) return 0;
      await send(
        rows.map((row) => ({
          specversion: '1.0', id: row.id, type: row.type, source: row.source, subject: row.subject,
          time: row.time.toISOString(), datacontenttype: 'application/json', data: row.data,
        })),
      );
      await client.query('UPDATE bulkflow.outbox SET published_at = now() WHERE id = ANY($1)', [rows.map((row) => row.id)]);
      return rows.length;
    });
    delivered += sent;
    if (sent < batchSize) return delivered;
  }
}

/** Deletes delivered events older than `olderThanMs` (housekeeping); undelivered ones always stay. */
export async function purgeOutbox(pool: pg.Pool, olderThanMs: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM bulkflow.outbox WHERE published_at IS NOT NULL AND published_at <= now() - $1 * interval '1 millisecond'`,
    [olderThanMs],
  );
  return rowCount ?? 0;
}

export async function pendingOutboxCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bulkflow.outbox WHERE published_at IS NULL');
  return rows[0]!.n;
}
