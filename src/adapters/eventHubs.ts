import { EventHubProducerClient } from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';
import { credentialFor } from './azureCredential.js';
import type { EventHubsConnection } from './settings.js';

/** Producer for the upload-events hub (`EventHubConnection`): connection string locally, identity on Azure. */
export function createEventHubProducer(
  connection: EventHubsConnection,
  eventHubName: string,
  credential?: TokenCredential,
): EventHubProducerClient {
  if (connection.kind === 'connectionString') return new EventHubProducerClient(connection.connectionString, eventHubName);
  return new EventHubProducerClient(connection.fullyQualifiedNamespace, eventHubName, credential ?? credentialFor(connection));
}
