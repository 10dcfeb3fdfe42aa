import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isFree, STANDARD_PORTS } from '../../src/azurite.js';
import { startTestStack, type TestStack } from '../../../test/support/localStack.js';
import { CSV_HEADER, finalStatus, validRows } from '../../../test/support/uploads.js';

// The one test stack on Azurite's standard ports (every other test uses free ones, so stacks run side by side).
// Skipped, and saying why, when something else on this machine holds them.
const free = (await Promise.all(Object.values(STANDARD_PORTS).map(isFree))).every(Boolean);

let t: TestStack;

beforeAll(async () => {
  if (free) t = await startTestStack({}, { storagePorts: 'standard' });
});

afterAll(async () => {
  await t?.stop();
});

it.skipIf(!free)('with Azurite on 10000-10002, an upload made with UseDevelopmentStorage=true (as Storage Explorer and az storage do) is ingested', async () => {
  const uploads = BlobServiceClient.fromConnectionString('UseDevelopmentStorage=true').getContainerClient('uploads');
  const body = Buffer.from(`${CSV_HEADER}\n${validRows(0, 25)}`);
  await uploads.getBlockBlobClient('wy/development-storage.csv').upload(body, body.length);
  const status = await finalStatus(t, 'wy/development-storage.csv');
  expect(status).toMatchObject({ status: 'complete', rowsCommitted: 25, rowsRejected: 0 });
});
