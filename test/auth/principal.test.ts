import { describe, expect, it } from 'vitest';
import { canRead, canUpload, hasAnyRole, principalFromClaims } from '../../src/auth/principal.js';

describe('principal from token claims', () => {
  it('reads Entra v2 (azp, oid) and v1 (appid, sub) names', () => {
    expect(principalFromClaims({ azp: 'c', oid: 'o', roles: [] })).toEqual({ callerId: 'o', clientId: 'c', states: [], operator: false });
    expect(principalFromClaims({ appid: 'c1', sub: 's1', roles: ['State.CA'] })).toEqual({ callerId: 's1', clientId: 'c1', states: ['CA'], operator: false });
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
});
