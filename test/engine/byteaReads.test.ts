import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readBytea, readRawRows } from '../../src/engine/byteaReads.js';
import { useEngineDatabase } from '../support/engineDatabase.js';

describe('bytea reads: values read as their bytes (binary COPY), not as hex text', () => {
  const engine = useEngineDatabase();

  it('returns every byte of values large and small, through a pool or a checked-out client', async () => {
    const { pool } = engine;
    const client = await pool.connect();
    try {
      await client.query('CREATE TEMP TABLE blobs (id int PRIMARY KEY, name text, bits bytea)');
      // 0 bytes, 1 byte, about one socket read, and 5 MB that arrive in many pieces.
      const values = [Buffer.alloc(0), Buffer.from([0xff]), randomBytes(65_536 - 25), randomBytes(5 << 20)];
      for (const [id, bits] of values.entries()) await client.query('INSERT INTO blobs VALUES ($1, $2, $3)', [id, `blob ${id} ü`, bits]);
      for (const [id, bits] of values.entries()) {
        const read = await readBytea(client, `SELECT bits FROM blobs WHERE id = ${id}`);
        expect(read?.equals(bits)).toBe(true);
      }
      // A part of one, as substring() cuts it.
      const part = await readBytea(client, 'SELECT substring(bits FROM 1001 FOR 4096) FROM blobs WHERE id = 3');
      expect(part?.equals(values[3]!.subarray(1000, 5096))).toBe(true);
      // Many rows of several columns: a text field's bytes are its UTF-8, a NULL is null, the rows in order.
      await client.query('INSERT INTO blobs VALUES (4, NULL, NULL)');
      const rows = await readRawRows(client, 'SELECT name, bits, id FROM blobs ORDER BY id');
      expect(rows.map((row) => row.length)).toEqual([3, 3, 3, 3, 3]);
      expect(rows.map(([name]) => name?.toString() ?? null)).toEqual(['blob 0 ü', 'blob 1 ü', 'blob 2 ü', 'blob 3 ü', null]);
      expect(rows.slice(0, 4).every(([, bits], id) => bits!.equals(values[id]!))).toBe(true);
      expect(rows[4]![1]).toBeNull();
      expect(rows.map(([, , id]) => id!.readInt32BE(0))).toEqual([0, 1, 2, 3, 4]);
      // A literal read through the pool: the connection it borrows goes back.
      expect((await readBytea(pool, `SELECT '\\x00ff10'::bytea`))?.equals(Buffer.from([0, 0xff, 0x10]))).toBe(true);
      expect(pool.idleCount).toBe(pool.totalCount - 1);
    } finally {
      client.release();
    }
  });

  it('answers null for no row or a NULL, no rows as none, and refuses more than one row or column, leaving the connection usable', async () => {
    const client = await engine.pool.connect();
    try {
      expect(await readBytea(client, `SELECT '\\x01'::bytea WHERE false`)).toBeNull();
      expect(await readRawRows(client, `SELECT '\\x01'::bytea WHERE false`)).toEqual([]);
      expect(await readBytea(client, 'SELECT NULL::bytea')).toBeNull();
      await expect(readBytea(client, `SELECT '\\x01'::bytea FROM generate_series(1, 2)`)).rejects.toThrow(/one row/);
      await expect(readBytea(client, `SELECT '\\x01'::bytea, '\\x02'::bytea`)).rejects.toThrow(/one column/);
      await expect(readRawRows(client, 'SELECT nope')).rejects.toThrow(/nope/);
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
      expect((await readBytea(client, `SELECT '\\x02'::bytea`))?.equals(Buffer.from([2]))).toBe(true);
    } finally {
      client.release();
    }
  });
});
