import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { EventGridWebhook } from './eventGrid.js';
import { sendText } from './eventGrid.js';
import type { HttpTriggers } from './httpTriggers.js';
import { DEFAULT_BODY_LIMIT, readBody } from './httpBody.js';
import { errorText } from './invoke.js';
import type { HostLogger } from './logger.js';
import type { ManagementApi } from './durable/managementApi.js';
import { refusal, type Refusal } from './loopbackGuard.js';
import { BadRequestPath, decodeRequestPath } from './requestPath.js';

export interface Routes {
  http?: HttpTriggers;
  eventGrid?: EventGridWebhook;
  management?: ManagementApi;
}

const MANAGEMENT_PREFIXES = ['/runtime/webhooks/durabletask/', '/durabletask/'];

/** One HTTP server for app routes, the Event Grid webhook and the durable management API. */
export function createHostServer(routes: Routes, logger: HostLogger): { server: Server; inFlight: Set<Promise<void>> } {
  const inFlight = new Set<Promise<void>>();
  const server = createServer((request, response) => {
    const work = handle(routes, request, response).catch((error: unknown) => {
      logger.error('request failed', { method: request.method, path: request.url?.split('?')[0], error: errorText(error) });
      if (!response.headersSent) sendText(response, 500, 'internal error');
      else response.end();
    });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });
  server.keepAliveTimeout = 1000;
  return { server, inFlight };
}

/** The host's own webhooks take small JSON bodies; HTTP functions read theirs themselves (possibly as a stream). */
const WEBHOOK_BODY_LIMIT = DEFAULT_BODY_LIMIT;

async function handle(routes: Routes, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const refused = refusal(request);
  if (refused) return sendProblem(response, refused);
  const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
  let path: string;
  try {
    path = decodeRequestPath(url.pathname);
  } catch (error) {
    if (!(error instanceof BadRequestPath)) throw error;
    return sendProblem(response, { status: 400, title: 'Bad request path', detail: error.message });
  }
  if (path.toLowerCase() === '/runtime/webhooks/eventgrid' && routes.eventGrid) {
    return routes.eventGrid.handle(request, response, url, await readBody(request, WEBHOOK_BODY_LIMIT));
  }
  const prefix = MANAGEMENT_PREFIXES.find((p) => path.startsWith(p) || `${path}/` === p);
  if (prefix) {
    if (!routes.management) return sendText(response, 404, 'this app has no durable functions');
    return routes.management.handle(request, response, url, path.slice(prefix.length), await readBody(request, WEBHOOK_BODY_LIMIT));
  }
  if (routes.http && (await routes.http.handle(request, response, url, path))) return;
  sendText(response, 404, 'not found');
}

/** The host's own refusals, before any function runs, as RFC 9457 problem details. */
function sendProblem(response: ServerResponse, { status, title, detail }: Refusal): void {
  response.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}
