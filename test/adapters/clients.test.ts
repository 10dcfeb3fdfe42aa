import type { AccessToken, TokenCredential } from '@azure/identity';
import { ManagedIdentityCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { credentialFor } from '../../src/adapters/azureCredential.js';
import { createEventHubProducer } from '../../src/adapters/eventHubs.js';
import { loadSettings } from '../../src/adapters/settings.js';
import { createBlobServiceClient } from '../../src/adapters/storage.js';

const noToken: TokenCredential = { getToken: async (): Promise<AccessToken | null> => null };

describe('storage and Event Hubs client factories', () => {
  it('points the blob client at Azurite for UseDevelopmentStorage=true', () => {
    const client = createBlobServiceClient({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(client.url).toBe('http://127.0.0.1:10000/devstoreaccount1');
    expect(client.accountName).toBe('devstoreaccount1');
  });

  it('uses the service URI and a token credential, never a key, for identity-based storage', () => {
    const client = createBlobServiceClient({ kind: 'identity', blobServiceUri: 'https://stabc.blob.core.windows.net' }, noToken);
    expect(client.url).toBe('https://stabc.blob.core.windows.net/');
    expect(client.credential).toBe(noToken);
  });

  it('builds producers from the emulator connection string and from a namespace + identity', async () => {
    const emulator = createEventHubProducer(
      { kind: 'connectionString', connectionString: 'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;' },
      'upload-events',
    );
    const azure = createEventHubProducer({ kind: 'identity', fullyQualifiedNamespace: 'evhns-abc.servicebus.windows.net' }, 'upload-events', noToken);
    try {
      expect(emulator.fullyQualifiedNamespace).toBe('localhost');
      expect(emulator.eventHubName).toBe('upload-events');
      expect(azure.fullyQualifiedNamespace).toBe('evhns-abc.servicebus.windows.net');
    } finally {
      await Promise.all([emulator.close(), azure.close()]);
    }
  });

  it('maps __credential=managedidentity to the managed identity only, as the Functions host does', () => {
    const settings = loadSettings({
      UploadStorage__blobServiceUri: 'https://stabc.blob.core.windows.net',
      UploadStorage__credential: 'managedidentity',
      UploadStorage__clientId: '00000000-0000-0000-0000-000000000001',
      EventHubConnection__fullyQualifiedNamespace: 'evhns-abc.servicebus.windows.net',
      DATABASE_URL: 'postgres://localhost/x',
      AUTH_ISSUER: 'https://login.microsoftonline.com/t/v2.0',
      AUTH_AUDIENCE: 'api',
      AUTH_JWKS_URL: 'https://login.microsoftonline.com/t/discovery/v2.0/keys',
    });
    if (settings.uploadStorage.kind !== 'identity') throw new Error('expected identity-based storage');
    expect(credentialFor(settings.uploadStorage)).toBeInstanceOf(ManagedIdentityCredential);
    if (settings.eventHubs.connection.kind !== 'identity') throw new Error('expected identity-based Event Hubs');
    expect(credentialFor(settings.eventHubs.connection)).not.toBeInstanceOf(ManagedIdentityCredential);
  });
});
