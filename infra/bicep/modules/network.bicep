// The private network (vnetEnabled): a virtual network with a subnet the Flex Consumption app integrates with
// (delegated to Microsoft.App/environments, as Flex requires) and one for private endpoints; a private endpoint and
// private DNS zone for each endpoint the app uses: host storage (blob, queue, table: Functions host, task hub,
// package), uploads storage (blob), Event Hubs and PostgreSQL. Each zone name comes from the cloud the deployment
// runs in (environment() or the service's own host name), so sovereign clouds get theirs.
param name string
param location string
param tags object
@description('Address space; the two /24 subnets are its first two.')
param addressPrefix string
param storageAccountId string
param uploadsStorageAccountId string
param eventHubsNamespaceId string
@description('<namespace>.servicebus.<suffix>: its zone is privatelink.servicebus.<suffix>.')
param eventHubsHost string
param postgresServerId string
@description('<server>.postgres.database.<suffix>: its zone is privatelink.postgres.database.<suffix>.')
param postgresHost string

var appSubnetName = 'app'
var endpointSubnetName = 'private-endpoints'
var storageSuffix = environment().suffixes.storage

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          delegations: [{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: endpointSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

var endpointSubnetId = '${vnet.id}/subnets/${endpointSubnetName}'

module blobZone 'privateDnsZone.bicep' = {
  params: { name: 'privatelink.blob.${storageSuffix}', vnetId: vnet.id, tags: tags }
}

module queueZone 'privateDnsZone.bicep' = {
  params: { name: 'privatelink.queue.${storageSuffix}', vnetId: vnet.id, tags: tags }
}

module tableZone 'privateDnsZone.bicep' = {
  params: { name: 'privatelink.table.${storageSuffix}', vnetId: vnet.id, tags: tags }
}

module eventHubsZone 'privateDnsZone.bicep' = {
  params: { name: 'privatelink.${join(skip(split(eventHubsHost, '.'), 1), '.')}', vnetId: vnet.id, tags: tags }
}

module postgresZone 'privateDnsZone.bicep' = {
  params: { name: 'privatelink.${join(skip(split(postgresHost, '.'), 1), '.')}', vnetId: vnet.id, tags: tags }
}

module hostBlobEndpoint 'privateEndpoint.bicep' = {
  params: {
    name: 'pe-${last(split(storageAccountId, '/'))}-blob'
    location: location
    tags: tags
    subnetId: endpointSubnetId
    targetId: storageAccountId
    groupId: 'blob'
    zoneId: blobZone.outputs.id
  }
}

module hostQueueEndpoint 'privateEndpoint.bicep' = {
  params: {
    name: 'pe-${last(split(storageAccountId, '/'))}-queue'
    location: location
    tags: tags
    subnetId: endpointSubnetId
    targetId: storageAccountId
    groupId: 'queue'
    zoneId: queueZone.outputs.id
  }
}

module hostTableEndpoint 'privateEndpoint.bicep' = {
  params: {
    name: 'pe-${last(split(storageAccountId, '/'))}-table'
    location: location
    tags: tags
    subnetId: endpointSubnetId
    targetId: storageAccountId
    groupId: 'table'
    zoneId: tableZone.outputs.id
  }
}

module uploadsBlobEndpoint 'privateEndpoint.bicep' = {
  params: {
    name: 'pe-${last(split(uploadsStorageAccountId, '/'))}-blob'
    location: location
    tags: tags
    subnetId: endpointSubnetId
    targetId: uploadsStorageAccountId
    groupId: 'blob'
    zoneId: blobZone.outputs.id
  }
}

module eventHubsEndpoint 'privateEndpoint.bicep' = {
  params: {
    name: 'pe-${last(split(eventHubsNamespaceId, '/'))}'
    location: location
    tags: tags
    subnetId: endpointSubnetId
    targetId: eventHubsNamespaceId
    groupId: 'namespace'
    zoneId: eventHubsZone.outputs.id
  }
}

module postgresEndpoint 'privateEndpoint.bicep' = {
  params: {
    name: 'pe-${last(split(postgresServerId, '/'))}'
    location: location
    tags: tags
    subnetId: endpointSubnetId
    targetId: postgresServerId
    groupId: 'postgresqlServer'
    zoneId: postgresZone.outputs.id
  }
}

output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'
