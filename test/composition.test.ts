import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../src/adapters/settings.js';
import { composeApp } from '../src/composition.js';
import { createDatabase, createTestDatabase, databaseUrl, dropDatabase, type TestDatabase } from './support/database.js';

const EMULATOR = 'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;';
const AUTH = { AUTH_ISSUER: 'https://login.bulkflow.localhost/local/v2.0', AUTH_AUDIENCE: 'api://bulkflow-local', AUTH_JWKS_URL: 'http://127.0.0.1:1/keys' };
// These tests are about migrating on first use, which DB_MIGRATE_ON_START turns on.
const settingsFor = (databaseUrl: string) =>
  loadSettings({ UploadStorage: 'UseDevelopmentStorage=true', EventHubConnection: EMULATOR, DATABASE_URL: databaseUrl, DB_MIGRATE_ON_START: 'true', ...AUTH });

describe('composition root', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('compose');
  });
  afterAll(async () => database.drop());

  it('reads settings and builds each client once, at first use; close drains the pool', async () => {
    let loads = 0;
    const clients = composeApp(() => {
      loads++;
      return settingsFor(database.url);
    });
    expect(loads).toBe(0);
    const [pool, again] = await Promise.all([clients.db(), clients.db()]);
    expect(again).toBe(pool);
    expect(loads).toBe(1);
    // Migrated before its first query.
    expect((await pool.query(`SELECT to_regclass('bulkflow.uploads')::text AS t`)).rows[0].t).toBe('bulkflow.uploads');
    expect(clients.uploadStorage()).toBe(clients.uploadStorage());
    expect(clients.eventProducer()).toBe(clients.eventProducer());
    expect(clients.settings()).toBe(clients.settings());
    expect(loads).toBe(1);

    await clients.close();
    await expect(pool.query('SELECT 1')).rejects.toThrow();
    const next = await clients.db();
    expect(next).not.toBe(pool);
    await clients.close();
  });

  it('keeps no pool whose migration failed: the next use tries again', async () => {
    const name = `compose_late_${randomBytes(4).toString('hex')}`;
    const settings: Settings = settingsFor(databaseUrl(name));
    const clients = composeApp(() => settings);
    await expect(clients.db()).rejects.toThrow(`database "${name}" does not exist`);
    try {
      await createDatabase(name);
      const pool = await clients.db();
      expect((await pool.query('SELECT current_database() AS db')).rows[0].db).toBe(name);
      await clients.close();
    } finally {
      await dropDatabase(name);
    }
  });
});
