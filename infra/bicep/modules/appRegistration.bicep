// The bulkflow API's Entra ID app registration (Microsoft Graph Bicep extension): its app roles, the delegated
// scope the dashboard signs people in for, the dashboard's single-page-app redirect address, and its service
// principal. Tokens are v2 (iss https://login.microsoftonline.com/<tenant>/v2.0, aud = the client id). The app
// validates them itself (src/auth/tokenValidator.ts); role assignment is required, so only callers an operator
// granted a role get a token at all.
extension 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0'

@description('Unique name of the registration in the tenant (idempotent redeployments find it by this).')
param uniqueName string
param displayName string
@description('The dashboard address people are sent back to after signing in (its directory, ending in /).')
param dashboardUrl string
@description('State codes that get a State.XX role (read and upload for that state).')
param states array
@description('The principal running azd: an owner of the registration, so it (and nobody without a directory role) can update it later. Empty = none.')
param ownerPrincipalId string

// A tenant-scoped identifier needs no self-reference: api://<tenant id>/<string> is one of the formats Entra accepts
// (identifier URI restrictions), so the registration is declared once.
var identifierUri = 'api://${tenant().tenantId}/${uniqueName}'

var operatorRole = [
  {
    id: guid(uniqueName, 'Operator.Read')
    value: 'Operator.Read'
    displayName: 'Operator: reads every state'
    description: 'Reads the uploads, status and row errors of every state. Cannot upload.'
    allowedMemberTypes: ['User', 'Application']
    isEnabled: true
  }
  {
    id: guid(uniqueName, 'Operator.Admin')
    value: 'Operator.Admin'
    displayName: 'Operator admin: reads every state and acts on orchestrations'
    description: 'What Operator.Read may, and rewind, restart or terminate an upload\'s orchestration in the console (each action audited). Cannot upload.'
    allowedMemberTypes: ['User']
    isEnabled: true
  }
]
var stateRoles = [for state in states: {
  id: guid(uniqueName, 'State.${toUpper(state)}')
  value: 'State.${toUpper(state)}'
  displayName: 'State ${toUpper(state)}'
  description: 'Uploads for state ${toUpper(state)} and reads its uploads, status and row errors.'
  allowedMemberTypes: ['User', 'Application']
  isEnabled: true
}]
var api = {
  requestedAccessTokenVersion: 2
  oauth2PermissionScopes: [
    {
      id: guid(uniqueName, 'user_impersonation')
      value: 'user_impersonation'
      type: 'User'
      isEnabled: true
      adminConsentDisplayName: 'Use bulkflow as the signed-in user'
      adminConsentDescription: 'Lets the bulkflow dashboard call the bulkflow API with the signed-in user\'s roles.'
      userConsentDisplayName: 'Use bulkflow as you'
      userConsentDescription: 'Lets the bulkflow dashboard call the bulkflow API with your roles.'
    }
  ]
}

resource registration 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [identifierUri]
  appRoles: concat(operatorRole, stateRoles)
  api: api
  // The dashboard signs in from the address it was opened at: its directory and its index page are both registered.
  spa: { redirectUris: [dashboardUrl, '${dashboardUrl}index.html'] }
  // 'append' keeps owners added outside the template (teammates, CI).
  owners: { relationshipSemantics: 'append', relationships: empty(ownerPrincipalId) ? [] : [ownerPrincipalId] }
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: registration.appId
  // No role, no token: Entra refuses to issue one to a caller without an assignment.
  appRoleAssignmentRequired: true
}

output clientId string = registration.appId
output servicePrincipalId string = servicePrincipal.id
output identifierUri string = identifierUri
output scope string = '${identifierUri}/user_impersonation'
