import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../local/src/azurite.js';
import { suiteResource } from './suite.js';

export interface UploadStorage {
  azurite: RunningAzurite;
  /** The uploads container, created. */
  uploads: ContainerClient;
}

/** Azurite with an uploads container, for the enclosing describe block (or file); stopped and removed after its tests. */
export function useUploadStorage(): UploadStorage {
  return suiteResource(
    async () => {
      const dir = await mkdtemp(join(process.cwd(), '.data', 'upload-storage-'));
      const azurite = await startAzurite({ location: dir });
      const uploads = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('uploads');
      await uploads.createIfNotExists();
      return { azurite, uploads, dir };
    },
    async ({ azurite, dir }) => {
      await azurite.stop();
      await rm(dir, { recursive: true, force: true });
    },
  );
}
