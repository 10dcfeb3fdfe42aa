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

@description('Object id of the principal running azd. azd always fills it with the principal it is signed in as (it never reads AZURE_PRINCIPAL_ID from the environment for this), so the PostgreSQL admin group and the app registration get the deployer as a member and owner. Empty = none.')
param principalId string = ''

@description('Kind of that principal; azd fills it too (User, or ServicePrincipal when it signed in with a client id).')
@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@description('Object id of an existing Entra security group to be the PostgreSQL administrator (the people and CI that deploy are its members). Empty = the deployment creates the group "bulkflow admins (<environment>)" with the deployer as owner and member.')
param postgresAdminGroupId string = ''

@description('Display name of that existing group (what its members sign in to PostgreSQL as); required with postgresAdminGroupId.')
param postgresAdminGroupName string = ''

@description('Give the deployer data roles (task hub in the host storage account, the uploads and dead-letter containers) for debugging and the Durable Functions monitor extension. Off: nobody but the app and Event Grid reads the data.')
param allowUserIdentityPrincipal bool = false

@description('Private network: Flex VNet integration, private endpoints and DNS zones for both storage accounts, Event Hubs and PostgreSQL, their public endpoints closed. The API and sign-in stay public.')
param vnetEnabled bool = false

@description('Address space of the virtual network (two /24 subnets are cut from its first 512 addresses).')
param vnetAddressPrefix string = '10.40.0.0/16'

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

@description('max_connections of the PostgreSQL server when you changed it on the server; 0 = Azure\'s default for postgresSkuName (postgresMaxConnections.json).')
@minValue(0)
@maxValue(5000)
param postgresMaxConnections int = 0

@description('Zone-redundant high availability: a standby in another zone (about doubles the server\'s compute and storage cost; needs a General Purpose or Memory Optimized SKU and a region with zones).')
param postgresZoneRedundantHa bool = false

@description('Geo-redundant backups in the paired region (backup storage billed at the geo-redundant rate, about twice the local one); can only be chosen when the server is created.')
param postgresGeoRedundantBackup bool = false

@description('Zone-redundant storage (ZRS) for both storage accounts (about 25% more per GB than LRS; changing an existing account is a migration, not a redeploy).')
param storageZoneRedundant bool = false

@description('Zone-redundant Flex Consumption plan, where the region offers it (always-ready instances then run in at least two zones and are billed as such).')
param functionsZoneRedundant bool = false

@description('Connections kept out of the app\'s budget: 15 that Azure reserves for replication and monitoring, plus room for the deploy-time migrations and an operator\'s session.')
@minValue(15)
param postgresReservedConnections int = 25

@description('Days after which anything left in the uploads container is deleted by the storage lifecycle policy (a backstop: the app deletes each file when its upload is final).')
@minValue(1)
param uploadsRetentionDays int = 7

@description('Days after which Event Grid dead letters (events it could not deliver to the starter) are deleted; replay them before (README "Dead-lettered upload events").')
@minValue(1)
param deadLetterRetentionDays int = 30

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

@description('Comma-separated user principal names allowed into the monitor (required when deployDfMon: an empty list would admit anyone the registration admits).')
param dfMonAllowedUserNames string = ''

@description('The monitor only reads (DFM_MODE ReadOnly, reader roles on queues and tables): no terminate, purge or "delete task hub". false = operators may act on instances.')
param dfMonReadOnly bool = true

@description('Durable Functions storage provider: the Durable Task Scheduler (a scheduler and task hub, identity-only access, its dashboard for operators) instead of Azure Storage queues and tables in the host account. No orchestration moves across: switch while no upload is running (README "The Durable Task Scheduler").')
param durableTaskScheduler bool = false

@allowed(['Consumption', 'Dedicated'])
@description('Durable Task Scheduler SKU: Consumption (per dispatched action, no idle cost) or Dedicated (reserved capacity units).')
param durableTaskSchedulerSku string = 'Consumption'

@minValue(1)
@description('Durable Task Scheduler capacity units (Dedicated only; 3 for zone redundancy).')
param durableTaskSchedulerCapacity int = 1

@description('Entra group (object id) of the operators who read orchestrations in the Durable Task Scheduler dashboard (Durable Task Data Reader).')
param durableTaskReaderGroupId string = ''

@description('E-mail address of the operators the alerts go to (infra/bicep/modules/alerts.bicep); empty: alerts without a receiver.')
param operatorEmail string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = 'func-${resourceToken}'
var storageAccountName = 'st${resourceToken}'
var uploadsStorageAccountName = 'stu${resourceToken}'
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'
var uploadsContainerName = 'uploads'
var deadLetterContainerName = 'eventgrid-deadletter'
var eventHubName = 'upload-events'
var databaseName = 'bulkflow'

// Connection budget (README "Connection budget"). Flex Consumption applies maximumInstanceCount to each scaling
// group separately, and every instance has its own pool of dbPoolMax connections. Groups that open connections:
// durable (the activities, plus its always-ready instance, counted on top because the Flex documentation does not
// say it is part of the maximum) and http (the status API) can each reach the maximum; matchAnalysis, an Event Hubs
// trigger, runs on at most one instance per partition; the two timers (outboxSweeper, housekeeping) on one each.
// The starter (Event Grid) never connects. The preprovision hook (infra/hooks/connectionBudget.mjs) computes the
// same before anything is deployed; here a negative headroom fails the function app module's @minValue(0).
var durableAlwaysReady = 1
var postgresDefaultMaxConnections = loadJsonContent('postgresMaxConnections.json')
var postgresMaxConnectionsEffective = postgresMaxConnections > 0 ? postgresMaxConnections : (postgresDefaultMaxConnections[?postgresSkuName] ?? 0)
var dbInstancesWorstCase = 2 * maximumInstanceCount + durableAlwaysReady + min(maximumInstanceCount, eventHubPartitionCount) + 2
var dbConnectionsWorstCase = dbPoolMax * dbInstancesWorstCase
var dbConnectionHeadroom = postgresMaxConnectionsEffective - postgresReservedConnections - dbConnectionsWorstCase

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
    uploadsName: uploadsStorageAccountName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    uploadsContainerName: uploadsContainerName
    deadLetterContainerName: deadLetterContainerName
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: allowUserIdentityPrincipal ? principalId : ''
    deployerPrincipalType: principalType
    uploadsRetentionDays: uploadsRetentionDays
    deadLetterRetentionDays: deadLetterRetentionDays
    zoneRedundant: storageZoneRedundant
    vnetEnabled: vnetEnabled
  }
}

module eventGridTopic 'modules/eventGridTopic.bicep' = {
  scope: rg
  params: {
    name: 'evgt-uploads-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.uploadsName
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
    vnetEnabled: vnetEnabled
  }
}

// The PostgreSQL administrator: a group, so every deployer (a teammate, CI after a laptop) signs in as the same
// role, which owns what the migrations create and may grant it. Created here unless an existing group is given.
module adminGroup 'modules/adminGroup.bicep' = if (empty(postgresAdminGroupId)) {
  scope: rg
  params: {
    uniqueName: 'bulkflow-admins-${resourceToken}'
    displayName: 'bulkflow admins (${environmentName})'
    deployerPrincipalId: principalId
  }
}

module postgres 'modules/postgres.bicep' = {
  scope: rg
  params: {
    name: 'psql-${resourceToken}'
    location: location
    tags: tags
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    adminGroupId: empty(postgresAdminGroupId) ? adminGroup!.outputs.id : postgresAdminGroupId
    adminGroupName: empty(postgresAdminGroupId) ? adminGroup!.outputs.displayName : postgresAdminGroupName
    zoneRedundantHa: postgresZoneRedundantHa
    geoRedundantBackup: postgresGeoRedundantBackup
    vnetEnabled: vnetEnabled
  }
}

module network 'modules/network.bicep' = if (vnetEnabled) {
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    storageAccountId: storage.outputs.id
    uploadsStorageAccountId: storage.outputs.uploadsId
    eventHubsNamespaceId: eventHubs.outputs.namespaceId
    eventHubsHost: eventHubs.outputs.fullyQualifiedNamespace
    postgresServerId: postgres.outputs.id
    postgresHost: postgres.outputs.host
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
    ownerPrincipalId: principalId
  }
}

module durableTask 'modules/durableTaskScheduler.bicep' = if (durableTaskScheduler) {
  scope: rg
  params: {
    schedulerName: 'dts-${resourceToken}'
    taskHubName: taskHubName
    location: location
    tags: tags
    skuName: durableTaskSchedulerSku
    dedicatedCapacity: durableTaskSchedulerCapacity
    appPrincipalId: identity.outputs.principalId
    readerGroupIds: empty(durableTaskReaderGroupId) ? [] : [durableTaskReaderGroupId]
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
    durableAlwaysReady: durableAlwaysReady
    zoneRedundant: functionsZoneRedundant
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    uploadsBlobEndpoint: storage.outputs.uploadsBlobEndpoint
    deploymentContainerName: deploymentContainerName
    eventHubsNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    postgresHost: postgres.outputs.host
    postgresDatabase: databaseName
    taskHubName: taskHubName
    durableTaskSchedulerEndpoint: durableTaskScheduler ? durableTask!.outputs.endpoint : ''
    dbPoolMax: dbPoolMax
    dbConnectionHeadroom: dbConnectionHeadroom
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    authClientId: appRegistration.outputs.clientId
    authScope: appRegistration.outputs.scope
    uploadMaxBytes: uploadMaxBytes
    appSubnetId: vnetEnabled ? network!.outputs.appSubnetId : ''
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
    readOnly: dfMonReadOnly
  }
}

// UPPER_SNAKE outputs become azd environment values (read by infra/hooks/azd.mjs and the README steps).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_UPLOADS_STORAGE_ACCOUNT_NAME string = storage.outputs.uploadsName
output AZURE_UPLOADS_CONTAINER string = uploadsContainerName
output AZURE_EVENTGRID_SYSTEM_TOPIC string = eventGridTopic.outputs.name
output AZURE_EVENTGRID_DEADLETTER_CONTAINER string = deadLetterContainerName
output AZURE_EVENTHUBS_NAMESPACE string = eventHubs.outputs.namespaceName
output AZURE_POSTGRES_HOST string = postgres.outputs.host
output AZURE_POSTGRES_DATABASE string = databaseName
output AZURE_POSTGRES_SERVER_NAME string = postgres.outputs.serverName
output AZURE_POSTGRES_ADMIN_NAME string = postgres.outputs.adminName
// Not AZURE_POSTGRES_ADMIN_GROUP_ID: that is the input naming an existing group, and an output would become it.
output POSTGRES_ADMIN_GROUP_OBJECT_ID string = postgres.outputs.adminId
output POSTGRES_ADMIN_GROUP_CREATED bool = empty(postgresAdminGroupId)
output AZURE_APP_IDENTITY_NAME string = identity.outputs.name
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output DB_CONNECTIONS_WORST_CASE int = dbConnectionsWorstCase
output DB_CONNECTION_HEADROOM int = functionApp.outputs.dbConnectionHeadroom
output TASK_HUB_NAME string = taskHubName
output AZURE_API_CLIENT_ID string = appRegistration.outputs.clientId
output AZURE_API_SERVICE_PRINCIPAL_ID string = appRegistration.outputs.servicePrincipalId
output AZURE_API_IDENTIFIER_URI string = appRegistration.outputs.identifierUri
output AZURE_API_SCOPE string = appRegistration.outputs.scope
output DFMON_URL string = deployDfMon ? dfmon!.outputs.url : ''
output DURABLE_TASK_DASHBOARD_URL string = durableTaskScheduler ? durableTask!.outputs.dashboardUrl : ''

// Operations: diagnostic settings to the workspace, and the alerts with their action group (README "Operations").
module diagnostics 'modules/diagnostics.bicep' = {
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    postgresServerName: postgres.outputs.serverName
    storageAccountName: storage.outputs.name
    uploadsStorageAccountName: storage.outputs.uploadsName
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    eventGridTopicName: eventGridTopic.outputs.name
  }
  dependsOn: [ monitoring ]
}

module alerts 'modules/alerts.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    operatorEmail: operatorEmail
    logAnalyticsName: 'log-${resourceToken}'
    postgresServerName: postgres.outputs.serverName
    postgresConnectionBudget: dbConnectionsWorstCase
    eventGridTopicName: eventGridTopic.outputs.name
    appName: appName
  }
  dependsOn: [ monitoring ]
}
