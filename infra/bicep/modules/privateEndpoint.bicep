// A private endpoint for one sub-resource of a service, with its A record in the given private DNS zone.
param name string
param location string
param tags object
param subnetId string
param targetId string
@description('Sub-resource: blob, queue, table (storage), namespace (Event Hubs), postgresqlServer.')
param groupId string
param zoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      {
        name: name
        properties: { privateLinkServiceId: targetId, groupIds: [groupId] }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [{ name: groupId, properties: { privateDnsZoneId: zoneId } }]
  }
}
