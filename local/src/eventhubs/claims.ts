/**
 * Claims-based security as the service's `$cbs` node does it, minus signature checks: any
 * well-formed, unexpired SAS token (or JWT) is accepted for the audience it names, and links may
 * only attach to addresses covered by an accepted audience.
 */
export const SAS_TOKEN_TYPE = 'servicebus.windows.net:sastoken';
export const JWT_TOKEN_TYPE = 'jwt';

export class ClaimError extends Error {}

/** Entity path of an audience such as `sb://localhost:5672/hub/Partitions/0` -> `hub/partitions/0`. */
export function audiencePath(audience: string): string {
  const withoutScheme = audience.replace(/^[a-z]+:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  const path = slash < 0 ? '' : withoutScheme.slice(slash + 1);
  return path.replace(/\/+$/, '').toLowerCase();
}

/** Validates a put-token request; returns the entity path the token grants. */
export function acceptToken(audience: string, token: unknown, tokenType: unknown): string {
  if (typeof audience !== 'string' || audience.length === 0) throw new ClaimError('put-token without an audience name');
  if (typeof token !== 'string' || token.length === 0) throw new ClaimError('put-token without a token');
  if (tokenType === JWT_TOKEN_TYPE) return audiencePath(audience);
  if (tokenType !== SAS_TOKEN_TYPE) throw new ClaimError(`unsupported token type ${String(tokenType)}`);
  const match = /^SharedAccessSignature (.+)$/.exec(token);
  if (!match?.[1]) throw new ClaimError('malformed SAS token: expected "SharedAccessSignature sr=...&sig=...&se=...&skn=..."');
  const fields = new URLSearchParams(match[1]);
  const resource = fields.get('sr');
  const expiry = Number(fields.get('se'));
  if (!resource || !fields.get('sig') || !fields.get('skn')) throw new ClaimError('malformed SAS token: sr, sig and skn are required');
  if (!Number.isFinite(expiry)) throw new ClaimError('malformed SAS token: se must be a Unix time');
  if (expiry * 1000 <= Date.now()) throw new ClaimError(`SAS token expired at ${new Date(expiry * 1000).toISOString()}`);
  const granted = audiencePath(resource);
  const requested = audiencePath(audience);
  if (!covers(granted, requested)) throw new ClaimError(`SAS token for "${resource}" does not cover "${audience}"`);
  return requested;
}

/** True when a grant for `granted` (an entity path) authorises `path`. */
export function covers(granted: string, path: string): boolean {
  const target = path.toLowerCase();
  return granted === '' || target === granted || target.startsWith(`${granted}/`);
}
