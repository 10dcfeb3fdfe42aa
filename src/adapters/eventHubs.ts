import { EventHubProducerClient } from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';
import { credentialFor } from './azureCredential.js';
import type { EventHubsConnection } from './settings.js';

/**
 * Fail fast when Event Hubs is unreachable: events wait in the outbox for the sweeper, so long SDK
 * retries would only hold an activity (and the outbox rows it locked).
 */
const PRODUCER_OPTIONS = { retryOptions: { maxRetries: 2, retryDelayInMs: 1_000, maxRetryDelayInMs: 5_000, timeoutInMs: 15_000 } };

/** Producer for the upload-events hub (`EventHubConnection`): connection string locally, identity on Azure. */
export function createEventHubProducer(
  connection: EventHubsConnection,
  eventHubName: string,
  credential?: TokenCredential,
): EventHubProducerClient {
  if (connection.kind === 'connectionString') return new EventHubProducerClient(connection.connectionString, eventHubName, PRODUCER_OPTIONS);
  return new EventHubProducerClient(connection.fullyQualifiedNamespace, eventHubName, credential ?? credentialFor(connection), PRODUCER_OPTIONS);
}
