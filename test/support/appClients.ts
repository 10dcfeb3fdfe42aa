import { afterAll, beforeAll } from 'vitest';
import { loadSettings } from '../../src/adapters/settings.js';
import { composeApp, type AppClients } from '../../src/composition.js';
import type { EngineDatabase } from './engineDatabase.js';
import type { UploadStorage } from './uploadStorage.js';

const EMULATOR = 'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;';
const AUTH = { AUTH_ISSUER: 'https://login.bulkflow.localhost/local/v2.0', AUTH_AUDIENCE: 'api://bulkflow-local', AUTH_JWKS_URL: 'http://127.0.0.1:1/keys' };

/**
 * The app's own clients (composeApp, settings as the app reads them) on a test database and Azurite, for the enclosing
 * describe block, closed after its tests: what activities are built with. Event Hubs and tokens are not reached.
 */
export function useAppClients(engine: EngineDatabase, storage: UploadStorage, settings: Record<string, string> = {}): () => AppClients {
  let clients: AppClients | undefined;
  beforeAll(() => {
    const env = { UploadStorage: storage.azurite.connectionString, EventHubConnection: EMULATOR, DATABASE_URL: engine.db.url, ...AUTH, ...settings };
    clients = composeApp(() => loadSettings(env));
  });
  afterAll(async () => clients?.close());
  return () => clients!;
}
