// Two storage accounts, so personal data never shares an account with the app's own code and state:
//   host (`st…`): the Functions host, the Durable task hub (blobs, queues, tables) and the Flex deployment package;
//   uploads (`stu…`): the uploaded CSVs and Event Grid's dead letters, the source of the BlobCreated events.
// The app may write to the uploads container only (it receives, reads and deletes the files there), so neither a
// bug nor a compromised app can reach its package through the uploads role, nor a state's file through the host.
// Shared keys are off on both: every client authenticates with Entra, so no key can leak into a setting.
param name string
param uploadsName string
param location string
param tags object
param deploymentContainerName string
param uploadsContainerName string
param deadLetterContainerName string
param appPrincipalId string
@description('Object id of the deployer when it asked for data roles (allowUserIdentityPrincipal); empty = none.')
param deployerPrincipalId string
@allowed(['User', 'ServicePrincipal'])
param deployerPrincipalType string
@description('Days after which the lifecycle policy deletes anything left in the uploads container.')
@minValue(1)
param uploadsRetentionDays int
@description('Days after which the lifecycle policy deletes dead-lettered events.')
@minValue(1)
param deadLetterRetentionDays int
param zoneRedundant bool
@description('Private network: public endpoints closed (the app comes through private endpoints, network.bicep).')
param vnetEnabled bool

var roles = loadJsonContent('../roles.json')
var withDeployer = !empty(deployerPrincipalId)

module hostAccount 'storageAccount.bicep' = {
  params: { name: name, location: location, tags: tags, zoneRedundant: zoneRedundant, vnetEnabled: vnetEnabled }
}

module uploadsAccount 'storageAccount.bicep' = {
  params: { name: uploadsName, location: location, tags: tags, zoneRedundant: zoneRedundant, vnetEnabled: vnetEnabled }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: name
  dependsOn: [hostAccount]
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource uploadsStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: uploadsName
  dependsOn: [uploadsAccount]
}

resource uploadsBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: uploadsStorage
  name: 'default'
}

resource uploadsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: uploadsBlobService
  name: uploadsContainerName
  properties: { publicAccess: 'None' }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: uploadsBlobService
  name: deadLetterContainerName
  properties: { publicAccess: 'None' }
}

// Backstops for personal data, run by lifecycle management about once a day: the app deletes each uploaded file
// when its upload is final, so whatever is still in uploads/ after uploadsRetentionDays (a failed deletion, a file
// that never became an upload) goes; dead letters (blob addresses of uploads Event Grid could not deliver) go after
// deadLetterRetentionDays, by which time an operator has replayed them (README "Dead-lettered upload events").
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: uploadsStorage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-stale-uploads'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${uploadsContainerName}/'] }
            actions: {
              baseBlob: { delete: { daysAfterModificationGreaterThan: uploadsRetentionDays } }
              snapshot: { delete: { daysAfterCreationGreaterThan: uploadsRetentionDays } }
            }
          }
        }
        {
          name: 'delete-old-dead-letters'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob', 'appendBlob'], prefixMatch: ['${deadLetterContainerName}/'] }
            actions: {
              baseBlob: { delete: { daysAfterModificationGreaterThan: deadLetterRetentionDays } }
            }
          }
        }
      ]
    }
  }
  dependsOn: [uploadsContainer, deadLetterContainer]
}

// The app on the host account: host storage and Flex deployment package (Blob Data Owner, per the Functions identity
// docs), Durable control/work-item queues (Queue Data Contributor), Durable history/instance tables (Table Data
// Contributor).
resource appBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The app on the uploads account: write (the upload API), read (the ingestion) and delete (when final) in uploads/.
resource appUploadsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(uploadsContainer.id, appPrincipalId, roles.storageBlobDataContributor)
  scope: uploadsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The deployer, only when it asked (allowUserIdentityPrincipal): browse the task hub with the Durable Functions
// monitor extension (host account), upload test files and read, replay and clear dead letters (two containers).
resource deployerBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(storage.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(storage.id, deployerPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(storage.id, deployerPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerUploadsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(uploadsContainer.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: uploadsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerDeadLetterContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(deadLetterContainer.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output id string = hostAccount.outputs.id
output name string = hostAccount.outputs.name
output blobEndpoint string = hostAccount.outputs.blobEndpoint
output uploadsId string = uploadsAccount.outputs.id
output uploadsName string = uploadsAccount.outputs.name
output uploadsBlobEndpoint string = uploadsAccount.outputs.blobEndpoint
