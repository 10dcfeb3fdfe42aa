// The Durable Task Scheduler as the Durable Functions storage provider (main.bicep's durableTaskScheduler parameter):
// a scheduler, the app's task hub, and identity-only access. The app's identity gets Durable Task Data Contributor
// on the task hub (what a Durable Functions app needs); operators get Durable Task Data Reader there, which opens the
// scheduler's dashboard read-only (no terminate, rewind or purge: those go through the app's console, audited).
param schedulerName string
param taskHubName string
param location string
param tags object
@allowed(['Consumption', 'Dedicated'])
@description('Consumption: billed per dispatched action, no idle cost. Dedicated: reserved capacity units.')
param skuName string
@minValue(1)
@description('Capacity units (Dedicated only; 3 for zone redundancy).')
param dedicatedCapacity int
param appPrincipalId string
@description('Entra groups (object ids) of the operators who read orchestrations in the scheduler\'s dashboard.')
param readerGroupIds array

var roles = loadJsonContent('../roles.json')

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: schedulerName
  location: location
  tags: tags
  properties: {
    // The scheduler takes only identity-based calls; its endpoint has no private endpoint here, so it stays reachable
    // over the internet (Entra tokens required).
    ipAllowlist: ['0.0.0.0/0']
    sku: skuName == 'Dedicated' ? { name: 'Dedicated', capacity: dedicatedCapacity } : { name: 'Consumption' }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
  properties: {}
}

resource appDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(taskHub.id, appPrincipalId, roles.durableTaskDataContributor)
  scope: taskHub
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
  }
}

resource operatorReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for readerId in readerGroupIds: {
  name: guid(taskHub.id, readerId, roles.durableTaskDataReader)
  scope: taskHub
  properties: {
    principalId: readerId
    principalType: 'Group'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataReader)
  }
}]

output endpoint string = scheduler.properties.endpoint
output dashboardUrl string = taskHub.properties.dashboardUrl
