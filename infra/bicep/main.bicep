// bulkflow on Azure: Flex Consumption function app (Node, Durable Functions on the Azure Storage provider),
// storage with the uploads container, Event Grid system topic, Event Hubs, PostgreSQL Flexible Server (Entra
// only), monitoring, and least-privilege role assignments, each scoped to its resource. `azd up` deploys it;
// infra/hooks/azd.mjs (azure.yaml hooks) migrates the database before the code serves and then subscribes the
// starter function to BlobCreated events.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds resource names.')
param environmentName string

@minLength(1)
@description('Region of every resource (must offer Flex Consumption).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the principal running azd (azd fills AZURE_PRINCIPAL_ID): PostgreSQL Entra administrator (runs the migrations at deploy) and data roles to upload files and browse the task hub. Empty = none.')
param principalId string = ''

@description('Kind of that principal (azd fills AZURE_PRINCIPAL_TYPE; the preprovision hook sets it when azd does not): a service principal in CI, a user at a desk.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Name PostgreSQL knows that principal by: a user principal name, or the display name of a service principal or group (the preprovision hook sets AZURE_PRINCIPAL_NAME).')
param principalName string = ''

@description('Node.js version of the function app. Functions support for Node 20 ended on 2026-04-30; add a newer major here once the app is tested on it.')
@allowed(['22'])
param nodeVersion string = '22'

@description('Instances per Flex Consumption scaling group (Flex applies it to each group separately; see the connection budget below).')
@minValue(1)
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

@description('PostgreSQL connections per app instance (its pool size); the connection budget below bounds it.')
@minValue(1)
param dbPoolMax int = 8

@description('max_connections of the PostgreSQL server: Azure\'s default for the SKU (B1ms 50, B2s 429, B2ms and D2ds_v5 859, D4ds_v5 and E2ds_v5 1718, D8ds_v5 3437, 16 vCores and up 5000), or the value you set on the server.')
@minValue(25)
@maxValue(5000)
param postgresMaxConnections int = 859

@description('Connections kept out of the app\'s budget: 15 that Azure reserves for replication and monitoring, plus room for the deploy-time migrations and an operator\'s session.')
@minValue(15)
param postgresReservedConnections int = 25

@description('Days after which anything left in the uploads container is deleted by the storage lifecycle policy (a backstop: the app deletes each file when its upload is final).')
@minValue(1)
param uploadsRetentionDays int = 7

@description('Daily Log Analytics ingestion cap in GB (-1 = none).')
param logDailyQuotaGb int = 2

@description('States (2-letter codes) that get a State.XX app role; add codes and run azd provision to onboard more.')
param states array = [
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY', 'LA', 'ME'
  'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI'
  'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI', 'WY', 'AS', 'GU', 'MP', 'PR', 'VI'
]

@description('Largest file the upload API accepts, in bytes (default 4 GiB).')
param uploadMaxBytes int = 4294967296

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

// Connection budget (README "Connection budget"). Flex Consumption applies maximumInstanceCount to each scaling
// group separately, and every instance has its own pool of dbPoolMax connections. Groups that open connections:
// durable (the activities) and http (the status API) can each reach the maximum; matchAnalysis, an Event Hubs
// trigger, runs on at most one instance per partition; the two timers (outboxSweeper, housekeeping) on one each.
// The starter (Event Grid) never connects. A negative headroom is refused: the function app module takes it as
// a parameter with @minValue(0), so the deployment fails before anything changes.
var dbInstancesWorstCase = 2 * maximumInstanceCount + min(maximumInstanceCount, eventHubPartitionCount) + 2
var dbConnectionsWorstCase = dbPoolMax * dbInstancesWorstCase
var dbConnectionHeadroom = postgresMaxConnections - postgresReservedConnections - dbConnectionsWorstCase

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
    deployerPrincipalType: principalType
    uploadsRetentionDays: uploadsRetentionDays
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
    adminPrincipalId: principalId
    adminPrincipalName: principalName
    adminPrincipalType: principalType
  }
}

// The API's app registration: app roles State.XX and Operator.Read, the dashboard's sign-in. The dashboard address
// assumes the app's classic default host name (<app>.azurewebsites.net).
module appRegistration 'modules/appRegistration.bicep' = {
  scope: rg
  params: {
    uniqueName: 'bulkflow-${resourceToken}'
    displayName: 'bulkflow (${environmentName})'
    dashboardUrl: 'https://${appName}.azurewebsites.net/api/dashboard/'
    states: states
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
    dbConnectionHeadroom: dbConnectionHeadroom
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    authClientId: appRegistration.outputs.clientId
    uploadMaxBytes: uploadMaxBytes
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

// UPPER_SNAKE outputs become azd environment values (read by infra/hooks/azd.mjs and the README steps).
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
output AZURE_POSTGRES_SERVER_NAME string = postgres.outputs.serverName
output AZURE_POSTGRES_ADMIN_NAME string = principalName
output AZURE_APP_IDENTITY_NAME string = identity.outputs.name
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output DB_CONNECTIONS_WORST_CASE int = dbConnectionsWorstCase
output DB_CONNECTION_HEADROOM int = functionApp.outputs.dbConnectionHeadroom
output TASK_HUB_NAME string = taskHubName
output AZURE_API_CLIENT_ID string = appRegistration.outputs.clientId
output AZURE_API_SERVICE_PRINCIPAL_ID string = appRegistration.outputs.servicePrincipalId
output AZURE_API_SCOPE string = appRegistration.outputs.scope
output DFMON_URL string = deployDfMon ? dfmon!.outputs.url : ''
