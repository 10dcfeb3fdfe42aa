import { jurisdictionOf } from '../engine/index.js';

/**
 * Who calls the API once its token is valid, and what its app roles allow. The role scheme:
 * - `State.XX` (XX a jurisdiction the program serves, engine/jurisdictions.ts): read and upload for state XX. A
 *   state system (client credentials) or a state's staff (signed in) hold one role per state they act for.
 * - `Operator.Read`: read every state. Operators have no role that uploads.
 * - `Operator.Admin`: what Operator.Read may, and act on orchestrations (rewind, restart, terminate) in the console.
 * Roles are the app registration's app roles (infra/bicep/modules/appRegistration.bicep); Entra puts the assigned
 * ones in the token's `roles` claim. Unknown roles are ignored.
 */
export interface Principal {
  /** Rate limits and logs key on it: the token's object id (a state system's service principal, or a person). */
  readonly callerId: string;
  /** The client application that asked for the token (`azp`, or `appid` in v1 tokens). */
  readonly clientId: string;
  /** States the caller holds a role for, upper case, sorted. */
  readonly states: readonly string[];
  /** Reads every state; never uploads. */
  readonly operator: boolean;
  /** Acts on orchestrations (Operator.Admin); an admin also reads as an operator. */
  readonly admin: boolean;
}

export const OPERATOR_ROLE = 'Operator.Read';
export const OPERATOR_ADMIN_ROLE = 'Operator.Admin';
const STATE_ROLE = /^State\.([A-Z]{2})$/;

export const stateRole = (state: string): string => `State.${state.toUpperCase()}`;

/** The principal a verified token's claims describe; undefined when they name no caller. */
export function principalFromClaims(claims: Record<string, unknown>): Principal | undefined {
  const callerId = text(claims.oid) ?? text(claims.sub);
  const clientId = text(claims.azp) ?? text(claims.appid);
  if (!callerId || !clientId) return undefined;
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((role): role is string => typeof role === 'string') : [];
  // A role for a code the program does not serve (State.XX) names no state: ignored like any unknown role.
  const states = [...new Set(roles.flatMap((role) => jurisdictionOf(STATE_ROLE.exec(role)?.[1] ?? '') ?? []))].sort();
  const admin = roles.includes(OPERATOR_ADMIN_ROLE);
  return { callerId, clientId, states, operator: admin || roles.includes(OPERATOR_ROLE), admin };
}

/** The bulkflow roles the principal holds, as the token named them (the audit trail keeps them). */
export const rolesOf = (principal: Principal): string[] => [
  ...principal.states.map(stateRole),
  ...(principal.operator && !principal.admin ? [OPERATOR_ROLE] : []),
  ...(principal.admin ? [OPERATOR_ADMIN_ROLE] : []),
];

export const hasAnyRole = (principal: Principal): boolean => principal.operator || principal.states.length > 0;

export const canRead = (principal: Principal, state: string): boolean =>
  principal.operator || principal.states.includes(state.toUpperCase());

/** The caller holds the state's own role (an operator role is not one). */
export const holdsState = (principal: Principal, state: string): boolean => principal.states.includes(state.toUpperCase());

/** Only a state's own role uploads for it: an operator role never does. */
export const canUpload = holdsState;

/**
 * Match records hold another state's participants: only the roles of the record's two states read them. Operators
 * read counts per state pair, never records.
 */
export const canReadMatchRecords = holdsState;

/** How logs name a caller: ids and roles, never the token. */
export const callerLabel = (principal: Principal): string =>
  `client=${principal.clientId} caller=${principal.callerId} states=${principal.states.join('+') || '-'}${principal.admin ? ' admin' : principal.operator ? ' operator' : ''}`;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
