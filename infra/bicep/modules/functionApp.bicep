// Flex Consumption plan + the function app (Node, user-assigned identity). Every connection is identity-based:
// no setting below holds a key or password. Flex rejects the classic settings (FUNCTIONS_WORKER_RUNTIME,
// WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENT*...): the runtime and package location live in functionAppConfig.
param planName string
param appName string
param location string
param tags object
param nodeVersion string
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
@allowed([512, 2048, 4096])
param instanceMemoryMB int
@description('Always-ready instances of the durable group (the connection budget in main.bicep counts them).')
param durableAlwaysReady int
@description('Spread the plan over availability zones (where the region offers it).')
param zoneRedundant bool
param identityId string
param identityClientId string
param identityName string
param storageAccountName string
param storageBlobEndpoint string
@description('Blob endpoint of the uploads account (personal data; never the host account).')
param uploadsBlobEndpoint string
param deploymentContainerName string
param eventHubsNamespace string
param eventHubName string
param postgresHost string
param postgresDatabase string
param taskHubName string
@description('The Durable Task Scheduler endpoint when it is the storage provider; empty: Azure Storage (host.json).')
param durableTaskSchedulerEndpoint string = ''
@description('PostgreSQL connections per instance (the pool size).')
param dbPoolMax int
@description('max_connections - reserved - worst-case app connections, computed in main.bicep: a negative value (the budget is broken) fails the deployment here.')
@minValue(0)
param dbConnectionHeadroom int
param applicationInsightsConnectionString string
@description('Client id of the bulkflow app registration: the audience of the tokens the API accepts.')
param authClientId string
@description('The delegated scope the dashboard asks for (<identifier URI>/user_impersonation).')
param authScope string
@description('Largest file the upload API accepts, in bytes.')
param uploadMaxBytes int
@description('Parts of a resumable upload, and the largest single PUT: far below the 210 MB request limit of Azure Functions.')
@minValue(65536)
@maxValue(104857600)
param uploadPartBytes int = 67108864
@description('Subnet the app integrates with (the private network); empty = none.')
param appSubnetId string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true, zoneRedundant: zoneRedundant }
}

var identitySettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'UploadStorage__blobServiceUri', value: uploadsBlobEndpoint }
  { name: 'UploadStorage__credential', value: 'managedidentity' }
  { name: 'UploadStorage__clientId', value: identityClientId }
  { name: 'EventHubConnection__fullyQualifiedNamespace', value: eventHubsNamespace }
  { name: 'EventHubConnection__credential', value: 'managedidentity' }
  { name: 'EventHubConnection__clientId', value: identityClientId }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
]

// Bearer tokens from this tenant's Entra ID, for this app registration (v2 tokens: aud is the client id).
var authority = '${environment().authentication.loginEndpoint}${tenant().tenantId}'
var authSettings = [
  { name: 'AUTH_ISSUER', value: '${authority}/v2.0' }
  { name: 'AUTH_AUDIENCE', value: authClientId }
  { name: 'AUTH_JWKS_URL', value: '${authority}/discovery/v2.0/keys' }
  { name: 'DASHBOARD_AUTHORITY', value: authority }
  { name: 'DASHBOARD_CLIENT_ID', value: authClientId }
  { name: 'DASHBOARD_SCOPE', value: authScope }
  { name: 'UPLOAD_MAX_BYTES', value: string(uploadMaxBytes) }
  { name: 'UPLOAD_PART_BYTES', value: string(uploadPartBytes) }
  // The host refuses larger bodies (text/plain 413) before the app sees them: at the 210 MB Azure Functions accepts,
  // well above any part, so a too-large request gets the app's own problem detail naming the resumable route.
  { name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT', value: string(210 * 1024 * 1024) }
]

var appSettings = [
  { name: 'TASK_HUB_NAME', value: taskHubName }
  { name: 'EVENT_HUB_NAME', value: eventHubName }
  { name: 'PGHOST', value: postgresHost }
  { name: 'PGDATABASE', value: postgresDatabase }
  { name: 'PGUSER', value: identityName }
  // The identity's login holds nothing itself: every session acts as the role the migrations grant (predeploy hook).
  { name: 'PGOPTIONS', value: '-c role=bulkflow_app' }
  { name: 'PGSSLMODE', value: 'verify-full' }
  { name: 'DB_POOL_MAX', value: string(dbPoolMax) }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
]

// The Durable Task Scheduler replaces host.json's Azure Storage provider through host.json overrides in app settings,
// so host.json (and the local host, which reads it) stays as it is. The scheduler takes only the app identity's tokens.
var durableTaskSettings = empty(durableTaskSchedulerEndpoint) ? [] : [
  { name: 'AzureFunctionsJobHost__extensions__durableTask__storageProvider__type', value: 'azureManaged' }
  { name: 'AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName', value: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING' }
  { name: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING', value: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}' }
]

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  // azd deploy finds the app by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Flex Consumption routes all outbound traffic through the integrated subnet.
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // Durable on Flex: keep one instance of the durable group warm so orchestrations never wait on a cold start.
        alwaysReady: [{ name: 'durable', instanceCount: durableAlwaysReady }]
      }
      runtime: { name: 'node', version: nodeVersion }
    }
    // Only minTlsVersion among the security settings: Flex Consumption rejects properties such as ftpsState (its
    // deprecated-properties list; ARM error 51021 where the validation is enforced). Basic-auth publishing is
    // switched off below instead; azd deploys with an Entra token and never needs it.
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: concat(identitySettings, appSettings, authSettings, durableTaskSettings)
    }
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: { allow: false }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: { allow: false }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
output dbConnectionHeadroom int = dbConnectionHeadroom
