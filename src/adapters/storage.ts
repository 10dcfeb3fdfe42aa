import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { credentialFor } from './azureCredential.js';
import type { BlobStorageConnection } from './settings.js';

/** The blob service the uploads are read from (`UploadStorage`): connection string locally, identity on Azure. */
export function createBlobServiceClient(connection: BlobStorageConnection, credential?: TokenCredential): BlobServiceClient {
  if (connection.kind === 'connectionString') return BlobServiceClient.fromConnectionString(connection.connectionString);
  return new BlobServiceClient(connection.blobServiceUri, credential ?? credentialFor(connection));
}
