// PostgreSQL Flexible Server with Microsoft Entra authentication only (no password login exists). Its Entra
// administrator is a group (adminGroup.bicep, or one the operator gives): the predeploy hook signs in as that group
// with the deployer's token, creates the database, maps the app's identity to a login and runs the migrations. The
// app's identity is never an administrator.
//
// The administrator comes first: a database created before any administrator exists belongs to the service's own
// superuser (azuresu), and its owner's CREATE right is then out of everyone's reach (the migrations' CREATE SCHEMA
// fails; hashicorp/terraform-provider-azurerm#27895, Azure/azure-cli#26772). The database is therefore not declared
// here at all: the predeploy hook creates it as the administrator, which makes the group its owner.
//
// The server accepts one change at a time (a second one in flight answers ServerBusy), so its children are
// created one after another: administrator, then firewall rule, then configuration.
param name string
param location string
param tags object
param version string
param skuName string
param skuTier string
param storageSizeGB int
@description('Object id of the Entra group that administers the server.')
param adminGroupId string
@description('Its display name: what its members sign in as.')
param adminGroupName string
@description('Standby in another availability zone.')
param zoneRedundantHa bool
@description('Backups copied to the paired region (fixed when the server is created).')
param geoRedundantBackup bool
@description('Private network: the app reaches the server through a private endpoint (network.bicep) and no Azure-wide firewall rule exists; the public endpoint stays on, admitting nobody but the deploying machine while the predeploy hook runs (it adds and removes that rule).')
param vnetEnabled bool

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
    backup: { backupRetentionDays: 7, geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled' }
    highAvailability: { mode: zoneRedundantHa ? 'ZoneRedundant' : 'Disabled' }
    network: { publicNetworkAccess: 'Enabled' }
  }
}

resource administrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: adminGroupId
  properties: {
    principalName: adminGroupName
    principalType: 'Group'
    tenantId: tenant().tenantId
  }
}

// Flex Consumption apps have no fixed outbound addresses without a VNet: allow Azure-internal sources only. With
// the private network the app comes through the private endpoint instead and this rule does not exist.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!vnetEnabled) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
  dependsOn: [administrator]
}

// Match ids are an HMAC made in the database (pgcrypto); an extension must be allow-listed before it can be created.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'PGCRYPTO'
    source: 'user-override'
  }
  dependsOn: [administrator, allowAzureServices]
}

output id string = server.id
output host string = server.properties.fullyQualifiedDomainName
output serverName string = server.name
output adminName string = administrator.properties.principalName
output adminId string = adminGroupId
