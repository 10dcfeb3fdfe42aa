// PostgreSQL Flexible Server with Microsoft Entra authentication only (no password login exists). The principal
// running azd is the Entra administrator: the predeploy hook (infra/hooks/azd.mjs) signs in as it to run the
// migrations and to map the app's identity to a login that may only act as the least-privilege role
// `bulkflow_app` (migrations/). The app's identity is never an administrator.
//
// The server accepts one change at a time (a second one in flight answers ServerBusy), so its children are
// created one after another: database, then firewall rule, then administrator.
param name string
param location string
param tags object
param databaseName string
param version string
param skuName string
param skuTier string
param storageSizeGB int
@description('Object id of the Entra administrator (the principal running azd); empty = none.')
param adminPrincipalId string
@description('Name the administrator signs in with: user principal name, or display name of a service principal or group.')
param adminPrincipalName string
@allowed(['User', 'ServicePrincipal', 'Group'])
param adminPrincipalType string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName, tier: skuTier }
  properties: {
    version: version
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: { storageSizeGB: storageSizeGB, autoGrow: 'Enabled' }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
    network: { publicNetworkAccess: 'Enabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
}

// Flex Consumption apps have no fixed outbound addresses without a VNet: allow Azure-internal sources only.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
  dependsOn: [database]
}

// Match ids are an HMAC made in the database (pgcrypto); an extension must be allow-listed before it can be created.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'PGCRYPTO'
    source: 'user-override'
  }
  dependsOn: [database, allowAzureServices]
}

resource deployerAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(adminPrincipalId) && !empty(adminPrincipalName)) {
  parent: server
  name: adminPrincipalId
  properties: {
    principalName: adminPrincipalName
    principalType: adminPrincipalType
    tenantId: tenant().tenantId
  }
  dependsOn: [database, allowAzureServices, extensions]
}

output host string = server.properties.fullyQualifiedDomainName
output serverName string = server.name
output databaseName string = database.name
