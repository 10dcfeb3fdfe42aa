import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError, settingDefinitions } from '../../src/adapters/settings.js';

const local = {
  UploadStorage: 'UseDevelopmentStorage=true',
  EventHubConnection: 'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
  DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:5432/bulkflow',
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
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
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
    expect(settings.cleanupRetentionHours).toBe(24);
    expect(settings.durableHistoryRetentionDays).toBe(7);
    expect(settings.matchClosedRetentionDays).toBe(30);
    expect(settings.applicationInsightsConnectionString).toBeUndefined();
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
    });
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
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe('UploadStorage is not configured: set UploadStorage, or UploadStorage__blobServiceUri, or UploadStorage__accountName');
    expect(problems[1]).toBe('EventHubConnection is not configured: set EventHubConnection, or EventHubConnection__fullyQualifiedNamespace');
    expect(problems[2]).toBe('DATABASE_URL is not configured: set DATABASE_URL, or PGHOST + PGDATABASE + PGUSER');
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

  it('declares every setting once, with a default for each optional tuning value loadSettings falls back on', () => {
    const names = settingDefinitions.map((definition) => definition.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ['EVENT_HUB_NAME', 'INGEST_MAX_CHUNKS_IN_FLIGHT', 'INGEST_CHUNK_BYTES', 'DB_POOL_MAX', 'PGPORT', 'PGSSLMODE']) {
      expect(settingDefinitions.find((definition) => definition.name === name)?.default, name).toBeDefined();
    }
  });
});
