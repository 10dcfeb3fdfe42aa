// bulkflow on Azure: Flex Consumption function app (Node, Durable Functions on the Azure Storage provider),
// storage with the uploads container, Event Grid system topic, Event Hubs, PostgreSQL Flexible Server (Entra
// only), monitoring, and least-privilege role assignments, each scoped to its resource. `azd up` deploys it;
// infra/hooks/postdeploy.sh then subscribes the starter function to BlobCreated events.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds resource names.')
param environmentName string

@minLength(1)
@description('Region of every resource (must offer Flex Consumption).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying user (azd fills AZURE_PRINCIPAL_ID); gets data roles to upload files and browse the task hub. Empty = none.')
param principalId string = ''

@description('Node.js version of the function app.')
@allowed(['20', '22'])
param nodeVersion string = '20'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@minLength(3)
@maxLength(45)
@description('Durable task hub name (letters and digits, starting with a letter); also what the Durable Functions monitor shows.')
param taskHubName string = 'bulkflow'

@minValue(1)
@maxValue(32)
@description('Partitions of the upload-events hub.')
param eventHubPartitionCount int = 4

@minValue(1)
@maxValue(7)
@description('Days upload events are retained in Event Hubs.')
param eventHubRetentionDays int = 1

@description('PostgreSQL major version (the app needs 16 or newer).')
@allowed(['16', '17'])
param postgresVersion string = '16'

param postgresSkuName string = 'Standard_D2ds_v5'

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'GeneralPurpose'

param postgresStorageSizeGB int = 128

@description('PostgreSQL connections per app instance (maximumInstanceCount x this must stay below the server max_connections).')
@minValue(1)
param dbPoolMax int = 8

@description('Daily Log Analytics ingestion cap in GB (-1 = none).')
param logDailyQuotaGb int = 2

@description('Deploy the standalone Durable Functions monitor bound to the task hub.')
param deployDfMon bool = false

@description('Entra app registration client id for the monitor\'s sign-in (required when deployDfMon).')
param dfMonAuthClientId string = ''

@description('Comma-separated user principal names allowed into the monitor.')
param dfMonAllowedUserNames string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = 'func-${resourceToken}'
var storageAccountName = 'st${resourceToken}'
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'
var uploadsContainerName = 'uploads'
var deadLetterContainerName = 'eventgrid-deadletter'
var eventHubName = 'upload-events'
var databaseName = 'bulkflow'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  params: { name: 'id-${resourceToken}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    dailyQuotaGb: logDailyQuotaGb
    appPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    uploadsContainerName: uploadsContainerName
    deadLetterContainerName: deadLetterContainerName
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
  }
}

module eventGridTopic 'modules/eventGridTopic.bicep' = {
  scope: rg
  params: {
    name: 'evgt-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
  }
}

module eventHubs 'modules/eventHubs.bicep' = {
  scope: rg
  params: {
    namespaceName: 'evhns-${resourceToken}'
    eventHubName: eventHubName
    consumerGroupName: 'match-analysis'
    notificationConsumerGroupName: 'match-notifications'
    location: location
    tags: tags
    partitionCount: eventHubPartitionCount
    retentionHours: eventHubRetentionDays * 24
    appPrincipalId: identity.outputs.principalId
  }
}

module postgres 'modules/postgres.bicep' = {
  scope: rg
  params: {
    name: 'psql-${resourceToken}'
    location: location
    tags: tags
    databaseName: databaseName
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    appIdentityName: identity.outputs.name
    appPrincipalId: identity.outputs.principalId
  }
}

module functionApp 'modules/functionApp.bicep' = {
  scope: rg
  params: {
    planName: 'plan-${resourceToken}'
    appName: appName
    location: location
    tags: tags
    nodeVersion: nodeVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    eventHubsNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    postgresHost: postgres.outputs.host
    postgresDatabase: postgres.outputs.databaseName
    taskHubName: taskHubName
    dbPoolMax: dbPoolMax
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
  }
}

module dfmon 'modules/dfmon.bicep' = if (deployDfMon) {
  scope: rg
  params: {
    planName: 'plan-dfmon-${resourceToken}'
    appName: 'func-dfmon-${resourceToken}'
    identityName: 'id-dfmon-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    taskHubName: taskHubName
    authClientId: dfMonAuthClientId
    allowedUserNames: dfMonAllowedUserNames
  }
}

// UPPER_SNAKE outputs become azd environment values (read by infra/hooks/postdeploy.sh and the README steps).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_UPLOADS_CONTAINER string = uploadsContainerName
output AZURE_EVENTGRID_SYSTEM_TOPIC string = eventGridTopic.outputs.name
output AZURE_EVENTGRID_DEADLETTER_CONTAINER string = deadLetterContainerName
output AZURE_EVENTHUBS_NAMESPACE string = eventHubs.outputs.namespaceName
output AZURE_POSTGRES_HOST string = postgres.outputs.host
output AZURE_POSTGRES_DATABASE string = postgres.outputs.databaseName
output AZURE_APP_IDENTITY_NAME string = identity.outputs.name
output TASK_HUB_NAME string = taskHubName
output DFMON_URL string = deployDfMon ? dfmon!.outputs.url : ''
