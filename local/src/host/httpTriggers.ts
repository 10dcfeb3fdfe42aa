import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { forwardThroughProxy, readBody, refuseDeclaredOversize } from './httpBody.js';
import { errorText, type Invoker } from './invoke.js';
import type { HostLogger } from './logger.js';
import { sendText } from './eventGrid.js';
import type { BindingMetadata, DisabledFunction, RegisteredFunction, RpcTypedData } from './registry.js';
import { compileRoute, type CompiledRoute } from './routes.js';

interface HttpRoute {
  name: string;
  /** Absent for a function the host disabled; `disabled` then says why. */
  fn?: RegisteredFunction;
  disabled?: string;
  route: CompiledRoute;
  methods: string[];
}

/** Supplies extra inputs (e.g. the durable client binding) for a function invoked over HTTP. */
interface RpcHttpResponse {
  statusCode?: string;
  headers?: Record<string, string>;
  cookies?: Array<{ name: string; value: string; path?: { value?: string } }>;
  body?: RpcTypedData;
}

/**
 * HTTP-triggered functions under `/{routePrefix}/{route}`. authLevel is accepted but not enforced:
 * there are no function keys locally (the Functions host also skips keys when running locally).
 * Bodies over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT get 413, as from the Functions host.
 */
export class HttpTriggers {
  private readonly routes: HttpRoute[];

  /** `disabled`: HTTP functions the host could not start; their routes answer 500 with the reason. */
  constructor(
    functions: RegisteredFunction[],
    private readonly routePrefix: string,
    private readonly invoker: Invoker,
    private readonly logger: HostLogger,
    private readonly bodyLimit: number,
    /** The worker's HTTP proxy when the app enabled HTTP streams. */
    private readonly httpUri: string | undefined,
    disabled: DisabledFunction[] = [],
  ) {
    const routeOf = (name: string, trigger: BindingMetadata) => ({
      name,
      route: compileRoute(typeof trigger.route === 'string' ? trigger.route : name),
      methods: (Array.isArray(trigger.methods) ? (trigger.methods as string[]) : ['GET', 'POST']).map((m) => m.toUpperCase()),
    });
    this.routes = [
      ...functions.map((fn): HttpRoute => ({ ...routeOf(fn.name, fn.trigger), fn })),
      ...disabled.map((fn): HttpRoute => ({ ...routeOf(fn.name, fn.trigger), disabled: fn.reason })),
    ].sort((a, b) => b.route.precedence - a.route.precedence);
  }

  urlFor(fn: RegisteredFunction, origin: string): string {
    const route = this.routes.find((r) => r.fn === fn)?.route.template ?? fn.name;
    return `${origin}/${[this.routePrefix, route].filter(Boolean).join('/')}`;
  }

  /**
   * `decodedPath`: the request path as the web server decodes it (`decodeRequestPath`). Returns false when the
   * path is not under the route prefix or no route matches.
   */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL, decodedPath: string): Promise<boolean> {
    const prefix = this.routePrefix ? `/${this.routePrefix}` : '';
    if (prefix && decodedPath !== prefix && !decodedPath.startsWith(`${prefix}/`)) return false;
    const path = decodedPath.slice(prefix.length);
    let methodMismatch = false;
    for (const candidate of this.routes) {
      const params = candidate.route.match(path);
      if (!params) continue;
      if (!candidate.methods.includes(request.method ?? 'GET')) {
        methodMismatch = true;
        continue;
      }
      if (!candidate.fn) {
        sendText(response, 500, `function "${candidate.name}" is disabled: ${candidate.disabled}`);
        return true;
      }
      if (refuseDeclaredOversize(request, response, this.bodyLimit)) return true;
      await this.invoke(candidate.fn, request, response, url, params);
      return true;
    }
    if (methodMismatch) {
      response.writeHead(405).end();
      return true;
    }
    return false;
  }

  private async invoke(fn: RegisteredFunction, request: IncomingMessage, response: ServerResponse, url: URL, params: Record<string, string>): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const query = Object.fromEntries(url.searchParams);
    const http = { method: request.method ?? 'GET', url: url.toString(), headers, query, params };
    if (this.httpUri) {
      // HTTP streams: the RPC invocation carries headers and route values as trigger metadata, the body goes
      // through the worker's proxy (as the Functions host does it).
      const invocationId = randomUUID();
      const triggerMetadata: Record<string, RpcTypedData> = {
        Headers: { json: JSON.stringify(headers) },
        Query: { json: JSON.stringify(query) },
        ...Object.fromEntries(Object.entries(params).map(([name, value]) => [name, { string: value }])),
      };
      const invocation = this.invoker.invoke(fn, { invocationId, trigger: { http }, triggerMetadata });
      const outcome = await forwardThroughProxy({ httpUri: this.httpUri, invocationId, request, response, url, limit: this.bodyLimit, invocation });
      const result = await invocation;
      if (outcome.error !== undefined) {
        this.logger.error('function failed', { function: fn.name, invocationId, error: errorText(outcome.error) });
        return;
      }
      this.logger.info('executed', { function: fn.name, status: response.statusCode, ms: Math.round(result.durationMs) });
      return;
    }
    const body = await readBody(request, this.bodyLimit);
    const result = await this.invoker.invoke(fn, { trigger: { http: { ...http, body: body.length > 0 ? { bytes: body } : undefined } } });
    if (result.error !== undefined) {
      this.logger.error('function failed', { function: fn.name, invocationId: result.invocationId, error: errorText(result.error) });
      response.writeHead(500).end();
      return;
    }
    this.logger.info('executed', { function: fn.name, status: status(result.returnValue), ms: Math.round(result.durationMs) });
    writeRpcResponse(response, result.returnValue?.http as RpcHttpResponse | undefined);
  }
}

function status(value: RpcTypedData | undefined): string {
  return (value?.http as RpcHttpResponse | undefined)?.statusCode ?? '204';
}

function writeRpcResponse(response: ServerResponse, rpc: RpcHttpResponse | undefined): void {
  if (!rpc) {
    response.writeHead(204).end();
    return;
  }
  const headers: Record<string, string | string[]> = { ...(rpc.headers ?? {}) };
  if (rpc.cookies?.length) {
    headers['set-cookie'] = rpc.cookies.map((c) => `${c.name}=${c.value}${c.path?.value ? `; Path=${c.path.value}` : ''}`);
  }
  const body = rpc.body?.bytes ?? (rpc.body?.string !== undefined ? Buffer.from(rpc.body.string) : undefined);
  response.writeHead(Number(rpc.statusCode ?? 200), headers);
  response.end(body ? Buffer.from(body) : undefined);
}
