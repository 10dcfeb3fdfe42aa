import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { IdentityOptions } from './settings.js';

/**
 * The credential for an identity-based connection, with the Functions host's meaning of
 * `__credential` / `__clientId`: `managedidentity` means the (user-assigned, when a client id is given)
 * managed identity only; otherwise the default chain, so a developer's `az login` works too.
 */
export function credentialFor(identity: IdentityOptions): TokenCredential {
  if (identity.credential?.toLowerCase() === 'managedidentity') {
    return identity.clientId ? new ManagedIdentityCredential({ clientId: identity.clientId }) : new ManagedIdentityCredential();
  }
  return identity.clientId ? new DefaultAzureCredential({ managedIdentityClientId: identity.clientId }) : new DefaultAzureCredential();
}
