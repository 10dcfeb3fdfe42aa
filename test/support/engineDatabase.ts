import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { fileByteSource, migrate, type ByteSource } from '../../src/engine/index.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface EngineDatabase {
  db: TestDatabase;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** A fresh migrated database and a pool on it. */
export async function createEngineDatabase(): Promise<EngineDatabase> {
  const db = await createTestDatabase('engine');
  await migrate(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 6 });
  return {
    db,
    pool,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

/** Writes CSV text to a temporary file and returns it as a ByteSource. */
export async function csvSource(content: string | Buffer): Promise<ByteSource & { path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkflow-'));
  const path = join(dir, 'upload.csv');
  await writeFile(path, content);
  return { ...fileByteSource(path), path, remove: () => rm(dir, { recursive: true, force: true }) };
}
