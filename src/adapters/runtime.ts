import type { BlobServiceClient } from '@azure/storage-blob';
import type { EventHubProducerClient } from '@azure/event-hubs';
import type pg from 'pg';
import { migrate } from '../engine/index.js';
import { createEventHubProducer } from './eventHubs.js';
import { createPool } from './postgresPool.js';
import { loadSettings, type Settings } from './settings.js';
import { createBlobServiceClient } from './storage.js';

/**
 * Process-wide clients, created on first use and shared by every invocation (a pool per invocation
 * would exhaust the database). Only where DB_MIGRATE_ON_START says so (a local database) do migrations run, once
 * per process before the first query; on Azure the predeploy hook has migrated before this code serves.
 */
let settings: Settings | undefined;
let database: Promise<pg.Pool> | undefined;
let blobService: BlobServiceClient | undefined;
let producer: EventHubProducerClient | undefined;

export function appSettings(): Settings {
  settings ??= loadSettings();
  return settings;
}

export function db(): Promise<pg.Pool> {
  database ??= (async () => {
    const pool = createPool(appSettings().postgres, { max: appSettings().dbPoolMax });
    // An idle connection dropped by the server (failover, restart) must not crash the worker; the pool
    // replaces it on next use.
    pool.on('error', (error) => console.warn(`postgres pool: idle connection lost (${(error as { code?: string }).code ?? error.message})`));
    try {
      if (appSettings().migrateOnStart) await migrate(pool);
    } catch (error) {
      database = undefined;
      await pool.end();
      throw error;
    }
    return pool;
  })();
  return database;
}

export function uploadStorage(): BlobServiceClient {
  blobService ??= createBlobServiceClient(appSettings().uploadStorage);
  return blobService;
}

export function eventProducer(): EventHubProducerClient {
  const { connection, eventHubName } = appSettings().eventHubs;
  producer ??= createEventHubProducer(connection, eventHubName);
  return producer;
}

/** Closes the shared clients when the host shuts the app down (drains the pool instead of dropping it). */
export async function closeRuntime(): Promise<void> {
  const pool = database;
  database = undefined;
  await Promise.allSettled([pool?.then((p) => p.end()), producer?.close()]);
  producer = undefined;
}
