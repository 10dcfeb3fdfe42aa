// BlobCreated events for CSVs in the uploads container, delivered to the starter function. Deployed by
// infra/hooks/postdeploy.sh after the code: an AzureFunction endpoint must exist when the subscription is made.
// Event Grid fetches the function key itself, so no key is handled here.
param systemTopicName string
param functionAppName string
param storageAccountName string
param deadLetterContainerName string = 'eventgrid-deadletter'

// Must match src/functionNames.ts (test/infra/consistency.test.ts checks it).
var starterFunctionName = 'blobCreatedStarter'

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'csv-uploads-to-starter'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/${starterFunctionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/uploads/blobs/'
      subjectEndsWith: '.csv'
      isSubjectCaseSensitive: false
      // Only fully committed blobs (the storage events docs' advice), not each staged block.
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: ['PutBlob', 'PutBlockList', 'CopyBlob', 'FlushWithClose']
        }
      ]
    }
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: { resourceId: storage.id, blobContainerName: deadLetterContainerName }
      }
    }
  }
}

output name string = subscription.name
