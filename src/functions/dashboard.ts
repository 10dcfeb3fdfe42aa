import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AppClients } from '../composition.js';
import { json, problem } from './httpEncoders.js';
import { dashboardConfig } from './operationsBodies.js';

/** The page's static files: copied next to the compiled code by `npm run build` (dist/src/dashboard). */
const ASSET_DIR = new URL('../dashboard/', import.meta.url);

/** Only these files are served: a fixed list leaves no path for traversal. */
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'signIn.js': 'text/javascript; charset=utf-8',
  'upload.js': 'text/javascript; charset=utf-8',
  'sha256.js': 'text/javascript; charset=utf-8',
  'api.html': 'text/html; charset=utf-8',
  'apiDocs.js': 'text/javascript; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
};

/**
 * Files served from the app's own dependencies, by the module path they resolve from: hash-wasm's SHA-256 (Web Crypto
 * cannot hash a file in slices, and a caseload does not fit in the browser's memory at once; its WebAssembly needs
 * 'wasm-unsafe-eval' in script-src), and Swagger UI, which renders the OpenAPI document as the API reference (api.html).
 * They are production dependencies: the deployment package test resolves each there.
 */
export const DEPENDENCY_ASSETS: Readonly<Record<string, string>> = {
  'sha256.js': 'hash-wasm/dist/sha256.umd.min.js',
  'swagger-ui-bundle.js': 'swagger-ui-dist/swagger-ui-bundle.js',
  'swagger-ui.css': 'swagger-ui-dist/swagger-ui.css',
};
const dependencyFile = (asset: string) => pathToFileURL(createRequire(import.meta.url).resolve(DEPENDENCY_ASSETS[asset]!));

/** Where the page signs its user in (authorization code + PKCE); from the app settings. */
export interface DashboardSignIn {
  readonly authority: string;
  readonly clientId: string;
  readonly scope: string;
}

/** The page reads the status API (same origin) and redeems its sign-in code at the authority, nothing else. */
function securityHeaders(signIn: DashboardSignIn | undefined): Record<string, string> {
  const connect = ["'self'", ...(signIn ? [new URL(signIn.authority).origin] : [])].join(' ');
  return {
    'content-security-policy': `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

/** Where the dashboard of a host (e.g. `http://localhost:7071`) is; the CLI prints it. */
export function dashboardUrl(hostUrl: string): string {
  return `${hostUrl.replace(/\/+$/, '')}/api/dashboard/`;
}

/**
 * GET /api/dashboard/{*asset}: the upload dashboard (plain HTML, CSS and JS) and `config.json`, its sign-in
 * settings. None of it holds data: every figure comes from the API with the signed-in user's token.
 */
export function dashboard({ settings }: Pick<AppClients, 'settings'>) {
  return async ({ request, params }: { request: HttpRequest; params: { asset?: string } }): Promise<HttpResponseInit> => {
    const signIn = settings().dashboard;
    const headers = securityHeaders(signIn);
    const url = new URL(request.url);
    const asset = params.asset || 'index.html';
    // The page loads its assets by relative URL, so it must be addressed as a directory.
    if (!params.asset && !url.pathname.endsWith('/')) {
      return { status: 308, headers: { location: `${url.pathname}/${url.search}` } };
    }
    if (asset === 'config.json') {
      return json(dashboardConfig, { signIn: signIn ?? null }, 200, headers);
    }
    // Own keys only: `constructor` or `toString` must not find Object.prototype's.
    const contentType = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (!contentType) return problem(404, 'Not found', `the dashboard has no file ${asset}`);
    return {
      status: 200,
      headers: { 'content-type': contentType, 'cache-control': 'no-cache', ...headers },
      body: await readFile(Object.hasOwn(DEPENDENCY_ASSETS, asset) ? dependencyFile(asset) : new URL(asset, ASSET_DIR)),
    };
  };
}
