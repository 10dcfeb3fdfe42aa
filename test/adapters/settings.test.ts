import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError, settingDefinitions } from '../../src/adapters/settings.js';
import {
  DEFAULT_CHUNK_BYTES, DEFAULT_MAX_CHUNKS_IN_FLIGHT, DEFAULT_MAX_CONCURRENT_COMMITS, DEFAULT_MAX_ERROR_ROWS, DEFAULT_MAX_REJECTED_SHARE,
  DEFAULT_UPLOAD_MAX_BYTES,
} from '../../src/engine/index.js';

const local = {
  UploadStorage: 'UseDevelopmentStorage=true',
  EventHubConnection: 'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
  DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:5432/bulkflow',
  AUTH_ISSUER: 'https://login.bulkflow.localhost/local/v2.0',
  AUTH_AUDIENCE: 'api://bulkflow-local',
  AUTH_JWKS_URL: 'http://127.0.0.1:45678/local/discovery/v2.0/keys',
};

const azure = {
  UploadStorage__blobServiceUri: 'https://stabc.blob.core.windows.net',
  UploadStorage__credential: 'managedidentity',
  UploadStorage__clientId: '00000000-0000-0000-0000-000000000001',
  EventHubConnection__fullyQualifiedNamespace: 'evhns-abc.servicebus.windows.net',
  EventHubConnection__credential: 'managedidentity',
  EventHubConnection__clientId: '00000000-0000-0000-0000-000000000001',
  EVENT_HUB_NAME: 'upload-events',
  PGHOST: 'psql-abc.postgres.database.azure.com',
  PGDATABASE: 'bulkflow',
  PGUSER: 'id-abc',
  PGOPTIONS: '-c role=bulkflow_app',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
  AUTH_ISSUER: 'https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/v2.0',
  AUTH_AUDIENCE: '00000000-0000-0000-0000-0000000000bb',
  AUTH_JWKS_URL: 'https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/discovery/v2.0/keys',
  DASHBOARD_AUTHORITY: 'https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/',
  DASHBOARD_CLIENT_ID: '00000000-0000-0000-0000-0000000000bb',
  DASHBOARD_SCOPE: 'api://00000000-0000-0000-0000-0000000000bb/user_impersonation',
};

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof SettingsError) return error.problems;
    throw error;
  }
  throw new Error('expected a SettingsError');
}

describe('loadSettings', () => {
  it('reads local connection strings and applies the documented defaults', () => {
    const settings = loadSettings(local);
    expect(settings.uploadStorage).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(settings.eventHubs.eventHubName).toBe('upload-events');
    expect(settings.eventHubs.connection.kind).toBe('connectionString');
    expect(settings.postgres).toEqual({ kind: 'url', url: local.DATABASE_URL });
    expect(settings.ingest).toEqual({
      maxChunksInFlight: 8, maxConcurrentCommits: 16, chunkBytes: 8 * 1024 * 1024, maxRejectedShare: 0.05, maxErrorRows: 10000,
    });
    expect(settings.dbPoolMax).toBe(10);
    expect(settings.migrateOnStart).toBe(false);
    expect(settings.uploadBlobRetentionHours).toBe(0);
    expect(settings.outboxRetentionDays).toBe(7);
    expect(settings.cleanupRetentionHours).toBe(24);
    expect(settings.durableHistoryRetentionDays).toBe(7);
    expect(settings.matchClosedRetentionDays).toBe(30);
    expect(settings.applicationInsightsConnectionString).toBeUndefined();
    expect(settings.auth).toEqual({ issuer: local.AUTH_ISSUER, audience: local.AUTH_AUDIENCE, jwksUrl: local.AUTH_JWKS_URL, rateLimitPerMinute: 60 });
    expect(settings.uploads).toEqual({ maxBytes: 4 * 1024 ** 3, partBytes: 64 * 1024 ** 2, abandonHours: 24, partsPerMinute: 240 });
    expect(settings.dashboard).toBeUndefined();
  });

  it('reads identity-based connections and Entra PostgreSQL as bicep sets them', () => {
    const settings = loadSettings(azure);
    expect(settings.uploadStorage).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://stabc.blob.core.windows.net',
      credential: 'managedidentity',
      clientId: azure.UploadStorage__clientId,
    });
    expect(settings.eventHubs.connection).toEqual({
      kind: 'identity',
      fullyQualifiedNamespace: 'evhns-abc.servicebus.windows.net',
      credential: 'managedidentity',
      clientId: azure.EventHubConnection__clientId,
    });
    expect(settings.postgres).toEqual({
      kind: 'entra',
      host: azure.PGHOST,
      port: 5432,
      database: 'bulkflow',
      user: 'id-abc',
      sslMode: 'verify-full',
      clientId: azure.AZURE_CLIENT_ID,
      options: '-c role=bulkflow_app',
    });
    expect(settings.auth.audience).toBe(azure.AUTH_AUDIENCE);
    expect(settings.dashboard).toEqual({
      authority: 'https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa',
      clientId: azure.DASHBOARD_CLIENT_ID,
      scope: azure.DASHBOARD_SCOPE,
    });
    expect(settings.migrateOnStart).toBe(false);
  });

  it('keeps uploaded files 0 hours or more after final', () => {
    expect(loadSettings({ ...local, UPLOAD_BLOB_RETENTION_HOURS: '48' }).uploadBlobRetentionHours).toBe(48);
    expect(problemsOf({ ...local, UPLOAD_BLOB_RETENTION_HOURS: '-1' })).toEqual(['UPLOAD_BLOB_RETENTION_HOURS must be a whole number, 0 or more (got "-1")']);
  });

  it('keeps audit records 365 days unless told otherwise, never fewer than the 30 the database enforces', () => {
    expect(loadSettings(local).auditRetentionDays).toBe(365);
    expect(loadSettings({ ...local, AUDIT_RETENTION_DAYS: '2555' }).auditRetentionDays).toBe(2555);
    expect(problemsOf({ ...local, AUDIT_RETENTION_DAYS: '7' })).toEqual(['AUDIT_RETENTION_DAYS must be a whole number, 30 or more (got "7")']);
  });

  it('migrates on start only when DB_MIGRATE_ON_START says true, and names a bad value', () => {
    expect(loadSettings({ ...local, DB_MIGRATE_ON_START: 'true' }).migrateOnStart).toBe(true);
    expect(loadSettings({ ...local, DB_MIGRATE_ON_START: 'FALSE' }).migrateOnStart).toBe(false);
    expect(problemsOf({ ...local, DB_MIGRATE_ON_START: 'yes' })).toEqual(['DB_MIGRATE_ON_START must be true or false (got "yes")']);
  });

  it('derives the blob endpoint from UploadStorage__accountName', () => {
    const { UploadStorage__blobServiceUri: _, ...rest } = azure;
    const settings = loadSettings({ ...rest, UploadStorage__accountName: 'stxyz' });
    expect(settings.uploadStorage).toMatchObject({ kind: 'identity', blobServiceUri: 'https://stxyz.blob.core.windows.net' });
  });

  it('treats blank values as unset and overrides defaults with explicit values', () => {
    const settings = loadSettings({ ...local, EVENT_HUB_NAME: '  ', DB_POOL_MAX: '4', INGEST_MAX_REJECTED_SHARE: '0' });
    expect(settings.eventHubs.eventHubName).toBe('upload-events');
    expect(settings.dbPoolMax).toBe(4);
    expect(settings.ingest.maxRejectedShare).toBe(0);
  });

  it('reports every missing connection at once, naming the accepted forms', () => {
    const problems = problemsOf({});
    expect(problems).toHaveLength(6);
    expect(problems[0]).toBe('UploadStorage is not configured: set UploadStorage, or UploadStorage__blobServiceUri, or UploadStorage__accountName');
    expect(problems[1]).toBe('EventHubConnection is not configured: set EventHubConnection, or EventHubConnection__fullyQualifiedNamespace');
    expect(problems[2]).toBe('DATABASE_URL is not configured: set DATABASE_URL, or PGHOST + PGDATABASE + PGUSER');
    expect(problems.slice(3).map((problem) => problem.split(' ')[0])).toEqual(['AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_URL']);
  });

  it('rejects malformed numbers with the setting name and value', () => {
    const problems = problemsOf({
      ...local,
      INGEST_CHUNK_BYTES: '8MiB',
      DB_POOL_MAX: '0',
      INGEST_MAX_REJECTED_SHARE: '1.5',
      INGEST_MAX_CHUNKS_IN_FLIGHT: '2.5',
    });
    expect(problems).toEqual([
      'DB_POOL_MAX must be a positive integer (got "0")',
      'INGEST_MAX_CHUNKS_IN_FLIGHT must be a positive integer (got "2.5")',
      'INGEST_CHUNK_BYTES must be a positive integer (got "8MiB")',
      'INGEST_MAX_REJECTED_SHARE must be a number from 0 to 1 (got "1.5")',
    ]);
  });

  it('names a bad connection string without echoing it (it may hold a key)', () => {
    const secret = 'SharedAccessKey=abc123secret';
    const problems = problemsOf({ ...local, UploadStorage: secret, EventHubConnection: secret });
    expect(problems).toEqual([
      'UploadStorage is not a storage connection string (expected AccountName=, BlobEndpoint= or UseDevelopmentStorage=true)',
      'EventHubConnection is not an Event Hubs connection string (expected Endpoint=sb://...)',
    ]);
    expect(problems.join('\n')).not.toContain('abc123secret');
  });

  it('refuses a JWKS address that is not http(s) and a half-configured dashboard sign-in', () => {
    expect(problemsOf({ ...local, AUTH_JWKS_URL: 'file:///keys.json' })).toEqual(['AUTH_JWKS_URL must be a https: or http: URL']);
    expect(problemsOf({ ...local, DASHBOARD_CLIENT_ID: 'abc' })).toEqual([
      'the dashboard sign-in is partly configured: DASHBOARD_AUTHORITY, DASHBOARD_CLIENT_ID and DASHBOARD_SCOPE go together',
    ]);
  });

  it('explains partial PostgreSQL configuration and bad TLS modes', () => {
    const { DATABASE_URL: _, ...noUrl } = local;
    expect(problemsOf({ ...noUrl, PGHOST: 'db.example' })).toEqual([
      'PostgreSQL is partly configured: PGDATABASE, PGUSER missing (PGHOST, PGDATABASE and PGUSER go together)',
    ]);
    expect(problemsOf({ ...noUrl, PGHOST: 'db', PGDATABASE: 'd', PGUSER: 'u', PGSSLMODE: 'prefer', PGPORT: 'x' })).toEqual([
      'PGPORT must be a positive integer (got "x")',
      'PGSSLMODE must be one of disable, require, verify-full (got "prefer")',
    ]);
    expect(problemsOf({ ...local, DATABASE_URL: 'mysql://x' })).toContain('DATABASE_URL must be a postgres: or postgresql: URL');
  });

  it('takes the ingest and upload defaults from the engine\'s policy, so the engine and the app never disagree', () => {
    const settings = loadSettings(local);
    expect(settings.ingest).toEqual({
      maxChunksInFlight: DEFAULT_MAX_CHUNKS_IN_FLIGHT,
      maxConcurrentCommits: DEFAULT_MAX_CONCURRENT_COMMITS,
      chunkBytes: DEFAULT_CHUNK_BYTES,
      maxRejectedShare: DEFAULT_MAX_REJECTED_SHARE,
      maxErrorRows: DEFAULT_MAX_ERROR_ROWS,
    });
    expect(settings.uploads).toEqual({ maxBytes: DEFAULT_UPLOAD_MAX_BYTES, partBytes: 64 * 1024 ** 2, abandonHours: 24, partsPerMinute: 240 });
  });

  it('declares every setting once, with a default for each optional tuning value loadSettings falls back on', () => {
    const names = settingDefinitions.map((definition) => definition.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ['EVENT_HUB_NAME', 'INGEST_MAX_CHUNKS_IN_FLIGHT', 'INGEST_CHUNK_BYTES', 'DB_POOL_MAX', 'PGPORT', 'PGSSLMODE']) {
      expect(settingDefinitions.find((definition) => definition.name === name)?.default, name).toBeDefined();
    }
  });
});
