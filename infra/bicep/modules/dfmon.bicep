// Optional standalone Durable Functions monitor (DfMon, .NET isolated, run from its NuGet package) bound to the
// app's task hub. Shared keys are off on the storage account, so it runs on a small dedicated plan (no Azure
// Files content share) with its own identity, and Easy Auth (an Entra app registration) guards every request.
param planName string
param appName string
param identityName string
param location string
param tags object
param storageAccountName string
param taskHubName string
@description('Client id of the Entra app registration DfMon signs users in with (ID tokens enabled, redirect URI https://<app>.azurewebsites.net/.auth/login/aad/callback).')
param authClientId string
@description('Comma-separated user principal names allowed in. Required: DfMon admits anyone the registration admits when the list is empty.')
@minLength(3)
param allowedUserNames string
@description('DFM_MODE ReadOnly and reader roles on queues and tables: no terminate, purge, rewind or "delete task hub".')
param readOnly bool

var roles = loadJsonContent('../roles.json')

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// DfMon reads the task hub (history/instances tables, control queues, lease and large-message blobs) and keeps its
// own host state in the same account: the standalone DfMon only reads its AzureWebJobsStorage account, so its host
// needs blob write (Blob Data Owner, as the Functions identity docs ask of AzureWebJobsStorage). Queues and tables
// are read-only unless operators may act on instances (readOnly false).
var queueRole = readOnly ? roles.storageQueueDataReader : roles.storageQueueDataContributor
var tableRole = readOnly ? roles.storageTableDataReader : roles.storageTableDataContributor
resource dfmonBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource dfmonQueueData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, queueRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource dfmonTableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, tableRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tableRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  sku: { name: 'B1', tier: 'Basic' }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      netFrameworkVersion: 'v8.0'
      alwaysOn: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
        { name: 'WEBSITE_RUN_FROM_PACKAGE', value: 'https://www.nuget.org/api/v2/package/DurableFunctionsMonitor.DotNetIsolated' }
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        // Without it DfMon shows every task hub in the account.
        { name: 'DFM_HUB_NAME', value: taskHubName }
        { name: 'DFM_ALLOWED_USER_NAMES', value: allowedUserNames }
        { name: 'DFM_MODE', value: readOnly ? 'ReadOnly' : '' }
      ]
    }
  }
  dependsOn: [dfmonBlobDataOwner, dfmonQueueData, dfmonTableData]
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
      }
    }
  }
}

output url string = 'https://${app.properties.defaultHostName}'
