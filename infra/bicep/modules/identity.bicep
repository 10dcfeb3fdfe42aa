// User-assigned identity of the function app: it must exist before the app, because the same identity
// is the PostgreSQL Entra principal and the holder of every data-plane role.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
