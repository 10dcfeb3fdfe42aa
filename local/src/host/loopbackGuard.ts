import type { IncomingMessage } from 'node:http';

/** A request the host refuses before routing, with the problem detail it answers. */
export interface Refusal {
  status: number;
  title: string;
  detail: string;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The local host serves the developer's machine only. Its management API starts, terminates and purges any
 * instance and its functions read every state's data with local tokens, so a web page the developer visits must
 * not reach it: by DNS rebinding (a page's own name re-pointed at 127.0.0.1 still sends that name as Host: only
 * loopback names are served) or by a cross-site form or fetch (a browser marks it with Origin and Sec-Fetch-Site;
 * such requests that change anything are refused). Tools that send neither header (curl, SDKs, Event Grid
 * delivery) are unaffected.
 */
export function refusal(request: IncomingMessage): Refusal | undefined {
  const host = request.headers.host;
  if (host !== undefined && !isLoopbackHost(host)) {
    return { status: 400, title: 'Host not served', detail: 'The local host answers only to localhost, 127.0.0.1 and [::1].' };
  }
  if (SAFE_METHODS.has(request.method ?? 'GET')) return undefined;
  if (request.headers['sec-fetch-site'] === 'cross-site') return crossSite;
  const origin = request.headers.origin;
  if (origin !== undefined && !sameOrigin(origin, host)) return crossSite;
  return undefined;
}

const crossSite: Refusal = { status: 403, title: 'Cross-site request refused', detail: 'The local host accepts changes only from its own pages and from tools that are not browsers.' };

/** `name` or `name:port` with a loopback name. */
export function isLoopbackHost(host: string): boolean {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host.trim().toLowerCase());
  return match !== null && LOOPBACK_NAMES.has(match[1]!);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && host !== undefined && url.host === new URL(`http://${host}`).host;
  } catch {
    return false; // "null" (a sandboxed page, a file) or garbage
  }
}
