// Event Hubs namespace + the upload-events hub + its consumer groups (match analysis, states' match notifiers). Local (SAS) auth is off
// and no authorization rules exist; the app sends and receives with its identity, roles scoped to the hub.
param namespaceName string
param eventHubName string
param consumerGroupName string
@description('Consumer group a state\'s notifier reads gov.bulkflow.matches.updated events with (partition key = state).')
param notificationConsumerGroupName string
param location string
param tags object
@minValue(1)
@maxValue(32)
param partitionCount int
@description('Hours events are kept; short on purpose (the data rules want personal-data events gone soon).')
@minValue(1)
param retentionHours int
param appPrincipalId string
@description('Private network: the namespace\'s public endpoint is closed; the app comes through a private endpoint (network.bicep).')
param vnetEnabled bool

var roles = loadJsonContent('../roles.json')

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard', capacity: 1 }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    retentionDescription: { cleanupPolicy: 'Delete', retentionTimeInHours: retentionHours }
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
}

resource notificationConsumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: notificationConsumerGroupName
}

// publishOutbox sends upload events; matchAnalysis (Event Hub trigger) receives them.
resource appDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, appPrincipalId, roles.eventHubsDataSender)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, appPrincipalId, roles.eventHubsDataReceiver)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output namespaceName string = namespace.name
output namespaceId string = namespace.id
// The host name from the namespace's own endpoint (https://<name>.servicebus.<cloud suffix>:443/): right in every cloud.
output fullyQualifiedNamespace string = split(replace(replace(namespace.properties.serviceBusEndpoint, 'https:', ''), '/', ''), ':')[0]
output eventHubName string = hub.name
