// A storage account as bulkflow keeps them (storage.bicep makes two): no shared keys, no anonymous access, TLS 1.2,
// Entra by default. With the private network the public endpoint is closed; the trusted-service bypass stays, as in
// the official Flex templates, for Event Grid (it writes dead letters with its managed identity).
param name string
param location string
param tags object
@description('ZRS instead of LRS.')
param zoneRedundant bool
param vnetEnabled bool

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: zoneRedundant ? 'Standard_ZRS' : 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: { bypass: 'AzureServices', defaultAction: vnetEnabled ? 'Deny' : 'Allow' }
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
