import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { httpRoutes, type AnyHttpRoute } from '../../src/functions/httpRoutes.js';
import { openApiDocument } from '../../src/functions/openApi.js';

/**
 * Every HTTP answer the end-to-end tests get is checked against the OpenAPI document the app serves (built here by
 * the same code): its path and method must be an operation, its status one of the operation's responses, its content
 * type one the response declares, its JSON body valid against the declared schema (JSON Schema 2020-12, with
 * ajv), and the headers the response declares required present. A route, status or field with no contract fails
 * the test that met it, with a message that says where to declare it.
 */

interface MediaObject { schema?: object }
interface ResponseObject { content?: Record<string, MediaObject>; headers?: Record<string, { required?: boolean }> }
interface Operation { operationId: string; responses: Record<string, ResponseObject> }
type Document = { paths: Record<string, Record<string, Operation>> };

/** 414 URI Too Long and 431 Request Header Fields Too Large: answered by the HTTP server (the Functions front end on Azure). */
const HOST_REFUSALS = new Set([414, 431]);

const WHERE = 'declare it in the route\'s `answers` in src/functions/httpRoutes.ts (and its body schema beside the handler)';

let checker: ReturnType<typeof createChecker> | undefined;
/** The checker of the app's document, built once per test file. */
export function contract() {
  return (checker ??= createChecker(openApiDocument(httpRoutes as Record<string, AnyHttpRoute>) as unknown as Document));
}

/** fetch, then the answer checked against the contract (paths outside /api/, the host's own, are not the app's). */
export async function checkedFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(input, init);
  await contract().check(init.method ?? 'GET', new URL(String(input)).pathname, response);
  return response;
}

export function createChecker(document: Document) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi.json');
  const validators = new Map<string, ValidateFunction>();
  /** The schema at a JSON pointer of the document, compiled once; its $refs resolve within the document. */
  const validatorOf = (pointer: string) => {
    let validate = validators.get(pointer);
    if (!validate) validators.set(pointer, (validate = ajv.compile({ $ref: `openapi.json#${pointer}` })));
    return validate;
  };
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`),
    // A literal segment beats a parameter (`/api/uploads/{uploadId}/errors` over a wider match).
    literal: template.replace(/\{\w+\}/g, '').length,
  })).sort((a, b) => b.literal - a.literal);

  /** The operation a request names, or an error naming what has no contract. */
  function operationOf(method: string, path: string): { template: string; operation: Operation } {
    const match = templates.find(({ pattern }) => pattern.test(path));
    const operation = match && document.paths[match.template]?.[method.toLowerCase()];
    if (!match || !operation) throw new Error(`no contract for ${method} ${path}: the OpenAPI document has no such operation; ${WHERE}`);
    return { template: match.template, operation };
  }

  return {
    document,
    /** Throws unless the answer is one the contract describes. */
    async check(method: string, path: string, response: Response): Promise<void> {
      // The host's own paths, and the refusals a front end gives before any app code runs (a URL or headers too long).
      if (!path.startsWith('/api/') || HOST_REFUSALS.has(response.status)) return;
      const { template, operation } = operationOf(method, path);
      const status = String(response.status);
      const declared = operation.responses[status];
      const where = `${method} ${path} (${operation.operationId}) answered ${status}`;
      if (!declared) {
        throw new Error(`${where}, which its contract does not declare (it declares ${Object.keys(operation.responses).join(', ')}); ${WHERE}`);
      }
      for (const [name, header] of Object.entries(declared.headers ?? {})) {
        if (header.required && !response.headers.has(name)) throw new Error(`${where} without its ${name} header, which the contract declares required`);
      }
      const text = method === 'HEAD' ? '' : await response.clone().text();
      const media = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!declared.content) {
        if (text !== '') throw new Error(`${where} with a ${media} body; its contract declares none`);
        return;
      }
      const content = declared.content[media];
      if (!content) throw new Error(`${where} as ${media || 'no content type'}; its contract declares ${Object.keys(declared.content).join(', ')}`);
      if (!media.endsWith('json') || !content.schema) return;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`${where} with a ${media} body that is not JSON`);
      }
      const pointer = `/paths/${escape(template)}/${method.toLowerCase()}/responses/${status}/content/${escape(media)}/schema`;
      const validate = validatorOf(pointer);
      if (!validate(body)) {
        const errors = (validate.errors ?? []).slice(0, 5).map((error) => `${error.instancePath || '/'} ${error.message}${error.params && 'additionalProperty' in error.params ? ` (${String(error.params.additionalProperty)})` : ''}`);
        throw new Error(`${where} with a body its contract does not describe: ${errors.join('; ')}`);
      }
    },
  };
}

/** A JSON pointer token (RFC 6901). */
const escape = (token: string) => encodeURIComponent(token.replace(/~/g, '~0').replace(/\//g, '~1'));

const eventSchemas = new Map<string, ValidateFunction>();
/**
 * Checks a CloudEvent a test read from the hub: a type the app declares, a `dataschema` URL the API serves, and data
 * valid against the schema served there (fetched once per URL, itself checked against the OpenAPI document).
 */
export async function checkEvent(event: { type?: unknown; dataschema?: unknown; data?: unknown; specversion?: unknown }): Promise<void> {
  const label = `event ${String(event.type)}`;
  if (event.specversion !== '1.0') throw new Error(`${label} is not a CloudEvent 1.0`);
  if (typeof event.dataschema !== 'string') throw new Error(`${label} names no dataschema: declare its type in src/engine/eventData.ts EVENT_TYPES`);
  let validate = eventSchemas.get(event.dataschema);
  if (!validate) {
    const response = await checkedFetch(event.dataschema);
    if (response.status !== 200) throw new Error(`${label}: its dataschema ${event.dataschema} answered ${response.status}`);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    eventSchemas.set(event.dataschema, (validate = ajv.compile((await response.json()) as object)));
  }
  if (!validate(event.data)) {
    const errors = (validate.errors ?? []).slice(0, 5).map((error) => `${error.instancePath || '/'} ${error.message}${error.params && 'additionalProperty' in error.params ? ` (${String(error.params.additionalProperty)})` : ''}`);
    throw new Error(`${label} carries data its schema (${event.dataschema}) does not describe: ${errors.join('; ')}`);
  }
}
