import { describe, expect, it } from 'vitest';
import { canRead, canUpload, hasAnyRole, principalFromClaims, rolesOf } from '../../src/auth/principal.js';

describe('principal from token claims', () => {
  it('reads Entra v2 (azp, oid) and v1 (appid, sub) names', () => {
    expect(principalFromClaims({ azp: 'c', oid: 'o', roles: [] })).toEqual({ callerId: 'o', clientId: 'c', states: [], operator: false, admin: false });
    expect(principalFromClaims({ appid: 'c1', sub: 's1', roles: ['State.CA'] })).toEqual({ callerId: 's1', clientId: 'c1', states: ['CA'], operator: false, admin: false });
    expect(principalFromClaims({ oid: 'o' })).toBeUndefined();
    expect(principalFromClaims({ azp: 'c' })).toBeUndefined();
  });

  it('takes State.XX roles as states and Operator.Read as the operator; ignores anything else', () => {
    const principal = principalFromClaims({ azp: 'c', oid: 'o', roles: ['State.TX', 'State.CA', 'State.CA', 'State.ca', 'State.CAL', 'Admin', 'Operator.Read', 7] })!;
    expect(principal.states).toEqual(['CA', 'TX']);
    expect(principal.operator).toBe(true);
    expect(principalFromClaims({ azp: 'c', oid: 'o', roles: 'State.CA' })!.states).toEqual([]);
  });

  it('lets a state read and upload its own states, an operator read all and upload none', () => {
    const state = principalFromClaims({ azp: 'c', oid: 'o', roles: ['State.CA'] })!;
    const operator = principalFromClaims({ azp: 'c', oid: 'o', roles: ['Operator.Read'] })!;
    const none = principalFromClaims({ azp: 'c', oid: 'o', roles: ['Something.Else'] })!;
    expect([canRead(state, 'ca'), canUpload(state, 'CA'), canRead(state, 'TX'), canUpload(state, 'TX')]).toEqual([true, true, false, false]);
    expect([canRead(operator, 'TX'), canUpload(operator, 'TX')]).toEqual([true, false]);
    expect([hasAnyRole(state), hasAnyRole(operator), hasAnyRole(none)]).toEqual([true, true, false]);
  });

  it('makes Operator.Admin an operator that also acts, and names the roles held for the audit trail', () => {
    const admin = principalFromClaims({ azp: 'c', oid: 'o', roles: ['Operator.Admin'] })!;
    const reader = principalFromClaims({ azp: 'c', oid: 'o', roles: ['Operator.Read', 'State.TX'] })!;
    expect([admin.operator, admin.admin, canRead(admin, 'CA'), canUpload(admin, 'CA')]).toEqual([true, true, true, false]);
    expect([reader.operator, reader.admin]).toEqual([true, false]);
    expect(rolesOf(admin)).toEqual(['Operator.Admin']);
    expect(rolesOf(reader)).toEqual(['State.TX', 'Operator.Read']);
  });
});
