import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { activateUpload, commitChunk, fileByteSource, migrate, planUpload, registerUpload, type ByteSource } from '../../src/engine/index.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { suiteResource } from './suite.js';

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

/** A fresh migrated database for the enclosing describe block (or file), dropped after its tests. */
export function useEngineDatabase(): EngineDatabase {
  return suiteResource(createEngineDatabase, (engine) => engine.close());
}

/** Writes CSV text to a temporary file and returns it as a ByteSource. */
export async function csvSource(content: string | Buffer): Promise<ByteSource & { path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkflow-'));
  const path = join(dir, 'upload.csv');
  await writeFile(path, content);
  return { ...fileByteSource(path), path, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface IngestOptions {
  state?: string;
  source?: string;
  etag?: string;
  targetChunkBytes?: number;
  /** Order in which chunk numbers are committed (default: plan order). */
  order?: (chunkNos: number[]) => number[];
  maxRejectedShare?: number;
  maxErrorRows?: number;
  /** Commit every chunk but leave the upload unactivated (in flight). */
  skipActivation?: boolean;
}

/** Register, plan, commit every chunk and activate one upload of `content`, as the app would. */
export async function ingest(pool: pg.Pool, content: string | Buffer, options: IngestOptions = {}) {
  const file = await csvSource(content);
  try {
    const { uploadId } = await registerUpload(pool, {
      state: options.state ?? 'CA',
      source: options.source ?? 'ca/participants.csv',
      etag: options.etag ?? `"${Math.random()}"`,
    });
    const planned = await planUpload(pool, uploadId, file, { targetChunkBytes: options.targetChunkBytes ?? 1024 });
    if (!planned.ok) return { uploadId, planned, activation: undefined };
    const chunkNos = planned.plan.chunks.map((c) => c.chunkNo);
    for (const chunkNo of (options.order ?? ((n) => n))(chunkNos)) {
      await commitChunk(pool, { uploadId, chunkNo }, file, { maxErrorRows: options.maxErrorRows ?? 10_000 });
    }
    if (options.skipActivation) return { uploadId, planned, activation: undefined };
    const activation = await activateUpload(pool, uploadId, {
      maxRejectedShare: options.maxRejectedShare ?? 1,
      maxErrorRows: options.maxErrorRows ?? 10_000,
    });
    return { uploadId, planned, activation };
  } finally {
    await file.remove();
  }
}
