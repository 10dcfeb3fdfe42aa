import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEventHubsEndpoint, type EventHubsEndpoint } from '../../src/eventhubs/endpoint.js';
import type { HubsConfig } from '../../src/eventhubs/hubConfig.js';
import { freePort } from '../../src/freePort.js';

export const HUB = 'upload-events';
export const DAY_MS = 24 * 60 * 60 * 1000;

export const testHubs: HubsConfig = {
  [HUB]: { partitions: 4, retentionMs: DAY_MS, consumerGroups: ['$Default', 'match-analysis'] },
};

export interface TestEndpoint {
  endpoint: EventHubsEndpoint;
  dataDir: string;
  connectionString: string;
  /** Stops the endpoint and starts it again on the same port and data (a restart). */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

/** An endpoint on a free port with its own data directory. */
export async function startTestEndpoint(hubs: HubsConfig = testHubs): Promise<TestEndpoint> {
  const dataDir = await mkdtemp(join(tmpdir(), 'bulkflow-eventhubs-'));
  const port = await freePort();
  const state: TestEndpoint = {
    endpoint: await startEventHubsEndpoint({ port, dataDir, hubs }),
    dataDir,
    connectionString: '',
    async restart() {
      await state.endpoint.stop();
      state.endpoint = await startEventHubsEndpoint({ port, dataDir, hubs });
    },
    async cleanup() {
      await state.endpoint.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  state.connectionString = state.endpoint.connectionString(Object.keys(hubs)[0]!);
  return state;
}
