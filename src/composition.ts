import type { BlobServiceClient } from '@azure/storage-blob';
import type { EventHubProducerClient } from '@azure/event-hubs';
import type pg from 'pg';
import { migrate, type ByteSource, type UploadIdentity } from './engine/index.js';
import { createEventHubProducer } from './adapters/eventHubs.js';
import { publishPendingEvents } from './adapters/eventPublisher.js';
import { createPool } from './adapters/postgresPool.js';
import { loadSettings, type Settings } from './adapters/settings.js';
import { createBlobServiceClient } from './adapters/storage.js';
import { blobByteSource } from './adapters/blobByteSource.js';

/**
 * What the app's handlers are handed (each factory takes the part it needs). Every client is built once per process,
 * on first use, and shared by every invocation (a pool per invocation would exhaust the database): the host loads
 * the app to index its functions before any setting is needed, and a cold start pays only for what it touches.
 */
export interface AppClients {
  /** The app settings, read and checked once, at first use. */
  settings: () => Settings;
  /**
   * The pool. Only where DB_MIGRATE_ON_START says so (a local database) do migrations run, once per process before
   * its first query; on Azure the predeploy hook has migrated as the administrator before this code serves.
   */
  db: () => Promise<pg.Pool>;
  uploadStorage: () => BlobServiceClient;
  eventProducer: () => EventHubProducerClient;
  /** An upload's blob version (from the orchestration's input), as a ByteSource. */
  uploadByteSource: (blob: UploadIdentity) => ByteSource;
  /** Sends every pending outbox event to Event Hubs; rejects (the events wait) when it is unreachable. */
  publishPendingEvents: () => Promise<number>;
  /** Closes the shared clients when the host shuts the app down (drains the pool instead of dropping it). */
  close: () => Promise<void>;
}

/** The composition root: the one place that builds settings and clients. */
export function composeApp(load: () => Settings = loadSettings): AppClients {
  let settings: Settings | undefined;
  let database: Promise<pg.Pool> | undefined;
  let blobService: BlobServiceClient | undefined;
  let producer: EventHubProducerClient | undefined;

  const appSettings = () => (settings ??= load());
  const db = (): Promise<pg.Pool> => {
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
  };
  const uploadStorage = () => (blobService ??= createBlobServiceClient(appSettings().uploadStorage));
  const eventProducer = () => {
    const { connection, eventHubName } = appSettings().eventHubs;
    producer ??= createEventHubProducer(connection, eventHubName);
    return producer;
  };
  return {
    settings: appSettings,
    db,
    uploadStorage,
    eventProducer,
    uploadByteSource: ({ container, blobName, etag }) => blobByteSource(uploadStorage().getContainerClient(container).getBlobClient(blobName), etag),
    publishPendingEvents: async () => publishPendingEvents(await db(), eventProducer, appSettings().publicHostName),
    async close() {
      const pool = database;
      database = undefined;
      await Promise.allSettled([pool?.then((p) => p.end()), producer?.close()]);
      producer = undefined;
    },
  };
}
