/**
 * The jurisdictions the program serves, by USPS code: the 50 states, the District of Columbia and the five inhabited
 * territories. Roles, routes, blob paths and the CLI accept these and nothing else; infra/bicep/main.bicep's
 * `states` (one app role each) lists the same codes (test/infra/consistency.test.ts).
 */
export const JURISDICTIONS = [
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY', 'LA', 'ME',
  'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI',
  'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI', 'WY', 'AS', 'GU', 'MP', 'PR', 'VI',
] as const;

export type Jurisdiction = (typeof JURISDICTIONS)[number];

const SERVED: ReadonlySet<string> = new Set(JURISDICTIONS);

/** The jurisdiction a code names, in either case (`ca`, `CA`); undefined for anything the program does not serve. */
export function jurisdictionOf(code: string): Jurisdiction | undefined {
  const upper = code.toUpperCase();
  return SERVED.has(upper) ? (upper as Jurisdiction) : undefined;
}

/** How every door says what it accepts. */
export const JURISDICTION_RULE = 'the USPS code of a state, DC or a territory the program serves (e.g. CA)';
