// The Entra security group that is the PostgreSQL administrator. Deployers are members and sign in to PostgreSQL as
// the group (user name = its display name, password = their own token), so the objects and role grants the
// migrations make belong to one role whoever deploys: a teammate or CI after a laptop deploy keeps the ADMIN OPTION
// on `bulkflow_app` that PostgreSQL 16 requires to grant it. Nobody keeps a personal administrator login, and
// removing someone from the group removes their database rights.
extension 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0'

@description('Unique name of the group in the tenant (idempotent redeployments find it by this).')
param uniqueName string
param displayName string
@description('The principal running azd: made owner (so it can add teammates) and member. Empty = none.')
param deployerPrincipalId string

var deployer = empty(deployerPrincipalId) ? [] : [deployerPrincipalId]

resource group 'Microsoft.Graph/groups@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  description: 'PostgreSQL administrators of bulkflow: the people and pipelines that deploy it.'
  mailEnabled: false
  mailNickname: uniqueName
  securityEnabled: true
  // 'append' keeps the members and owners added outside the template (teammates, CI).
  owners: { relationshipSemantics: 'append', relationships: deployer }
  members: { relationshipSemantics: 'append', relationships: deployer }
}

output id string = group.id
output displayName string = group.displayName
