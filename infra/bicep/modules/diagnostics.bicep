// Diagnostic settings to Log Analytics for every resource that has them: PostgreSQL (its logs and metrics), both
// storage accounts' blob services (reads, writes and deletes: who read an uploaded file), Event Hubs and the Event Grid
// system topic (delivery failures). Flex Consumption function apps do not support diagnostic settings: the app's logs,
// requests and dependencies reach the same workspace through Application Insights (monitoring.bicep).
param logAnalyticsName string
param postgresServerName string
param storageAccountName string
param uploadsStorageAccountName string
param eventHubsNamespaceName string
param eventGridTopicName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}
resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: postgresServerName
}
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}
resource storageBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}
resource uploadsStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: uploadsStorageAccountName
}
resource uploadsBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: uploadsStorage
  name: 'default'
}
resource eventHubs 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubsNamespaceName
}
resource eventGridTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: eventGridTopicName
}

var allLogs = [ { categoryGroup: 'allLogs', enabled: true } ]
var allMetrics = [ { category: 'AllMetrics', enabled: true } ]
// Blob reads included: an uploaded file holds a state's participants, so who read it is part of the record.
var blobLogs = [
  { category: 'StorageRead', enabled: true }
  { category: 'StorageWrite', enabled: true }
  { category: 'StorageDelete', enabled: true }
]

resource postgresDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: postgres
  properties: { workspaceId: logAnalytics.id, logs: allLogs, metrics: allMetrics }
}

resource storageDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storageBlobs
  properties: { workspaceId: logAnalytics.id, logs: blobLogs }
}

resource uploadsDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: uploadsBlobs
  properties: { workspaceId: logAnalytics.id, logs: blobLogs }
}

resource eventHubsDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: eventHubs
  properties: { workspaceId: logAnalytics.id, logs: allLogs, metrics: allMetrics }
}

resource eventGridDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: eventGridTopic
  properties: { workspaceId: logAnalytics.id, logs: allLogs, metrics: allMetrics }
}
