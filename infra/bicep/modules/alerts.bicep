// Operators are told: an action group e-mails them; log alerts watch the lines the app writes (src/engine/opsSignals.ts
// OPS_LOG, and the Functions host's request records); metric alerts watch PostgreSQL and the Event Grid system topic.
// The README's operations section says what to do for each. test/infra/alerts.test.ts checks every log alert's query
// names a log line, function or table that exists.
param location string
param tags object
@description('E-mail address the alerts go to; empty deploys the alerts without a receiver.')
param operatorEmail string
param logAnalyticsName string
param postgresServerName string
@description('Connections the app may open (its pool times its worst-case instances): the connections alert fires at 90 % of it.')
param postgresConnectionBudget int
param eventGridTopicName string
param appName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}
resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: postgresServerName
}
resource eventGridTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: eventGridTopicName
}

resource operators 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-operators-${appName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'bulkflowops'
    enabled: true
    emailReceivers: empty(operatorEmail) ? [] : [
      { name: 'operators', emailAddress: operatorEmail, useCommonAlertSchema: true }
    ]
  }
}

// Log alerts over the workspace the app's Application Insights writes to (AppTraces: the app's warnings and errors;
// AppRequests: every function invocation). Each fires when its query returns a row in the window.
var logAlerts = [
  {
    name: 'upload-failed'
    description: 'An upload failed (the rejected-row limit, a whole-file error, or a chunk that failed for good).'
    severity: 2
    query: 'AppTraces | where Message startswith "upload failed:"'
  }
  {
    name: 'upload-stalled'
    description: 'An upload made no progress for 30 minutes (no registration, plan or chunk commit).'
    severity: 2
    query: 'AppTraces | where Message startswith "upload stalled:"'
  }
  {
    name: 'orchestration-failed'
    description: 'An ingest orchestration or sub-orchestration failed (open it in the dashboard\'s console).'
    severity: 1
    query: 'AppRequests | where Name in ("ingestOrchestrator", "ingestChunksOrchestrator") and Success == false'
  }
  {
    name: 'outbox-behind'
    description: 'The oldest unpublished outbox event is older than 10 minutes: Event Hubs is unreachable or refusing.'
    severity: 2
    query: 'AppTraces | where Message startswith "outbox behind:"'
  }
  {
    name: 'match-analysis-behind'
    description: 'An upload completed over 15 minutes ago and no match run exists for it: the match analysis is behind or failing.'
    severity: 2
    query: 'AppTraces | where Message startswith "match analysis behind:"'
  }
  {
    name: 'function-failures'
    description: 'Function invocations failed (any function; more than 5 in 15 minutes).'
    severity: 3
    query: 'AppRequests | where Success == false | summarize failures = count() by Name | where failures > 5'
  }
  {
    name: 'audit-write-failed'
    description: 'An audit record could not be written: the request was answered 503 and returned no data.'
    severity: 1
    query: 'AppTraces | where Message startswith "audit record not written:"'
  }
  {
    name: 'log-cap-reached'
    description: 'The Log Analytics daily cap was reached: ingestion has stopped until the next day, and these alerts are blind.'
    severity: 1
    query: '_LogOperation | where Category == "Ingestion" and Operation has "Data collection" and Detail has "OverQuota"'
  }
]

resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for alert in logAlerts: {
  name: 'alert-${alert.name}-${appName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'bulkflow: ${alert.name}'
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [ logAnalytics.id ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: [ operators.id ] }
  }
}]

// Metric alerts: PostgreSQL against its capacity and the app's connection budget; Event Grid deliveries.
var metricAlerts = [
  { name: 'postgres-cpu', scope: postgres.id, namespace: 'Microsoft.DBforPostgreSQL/flexibleServers', metric: 'cpu_percent', aggregation: 'Average', threshold: 85, severity: 2, description: 'PostgreSQL CPU above 85 % for 15 minutes.' }
  { name: 'postgres-storage', scope: postgres.id, namespace: 'Microsoft.DBforPostgreSQL/flexibleServers', metric: 'storage_percent', aggregation: 'Maximum', threshold: 80, severity: 2, description: 'PostgreSQL storage above 80 %: grow it or lower retention before it fills.' }
  { name: 'postgres-connections', scope: postgres.id, namespace: 'Microsoft.DBforPostgreSQL/flexibleServers', metric: 'active_connections', aggregation: 'Maximum', threshold: postgresConnectionBudget * 9 / 10, severity: 2, description: 'PostgreSQL connections above 90 % of the app\'s connection budget.' }
  { name: 'eventgrid-deadlettered', scope: eventGridTopic.id, namespace: 'Microsoft.EventGrid/systemTopics', metric: 'DeadLetteredCount', aggregation: 'Total', threshold: 0, severity: 1, description: 'Event Grid dead-lettered an upload\'s BlobCreated event: that upload did not start.' }
  { name: 'eventgrid-delivery-failed', scope: eventGridTopic.id, namespace: 'Microsoft.EventGrid/systemTopics', metric: 'DeliveryAttemptFailCount', aggregation: 'Total', threshold: 5, severity: 2, description: 'Event Grid deliveries to the app are failing (it retries for 24 hours, then dead-letters).' }
]

resource metricAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = [for alert in metricAlerts: {
  name: 'alert-${alert.name}-${appName}'
  location: 'global'
  tags: tags
  properties: {
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [ alert.scope ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: alert.metric
          metricNamespace: alert.namespace
          metricName: alert.metric
          timeAggregation: alert.aggregation
          operator: 'GreaterThan'
          threshold: alert.threshold
        }
      ]
    }
    autoMitigate: true
    actions: [ { actionGroupId: operators.id } ]
  }
}]

output actionGroupId string = operators.id