import type { HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
// A cycle with the table, which names this handler: only functions cross it, and they run after both loaded.
import { httpRoutes, STATE_POLICIES, type AccessPolicy, type AnyHttpRoute } from './httpRoutes.js';

/** RFC 9457 problem details: every refusal of the API. */
const problemDetails = z
  .object({
    type: z.string().meta({ example: 'about:blank' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
  })
  .meta({ id: 'ProblemDetails', description: 'RFC 9457 problem details.' });

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: problemDetails } } });

/**
 * The OpenAPI 3.1 document of the API, derived from the route table: every row's path, method, access policy
 * (bearer token and the roles it needs), the decoders of its path and query (zod schemas: their types, ranges,
 * patterns and defaults) and the refusals its policy and decoders can answer. Built once per process.
 */
export function openApiDocument(routes: Readonly<Record<string, AnyHttpRoute>>): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const [name, route] of Object.entries(routes)) {
    // OpenAPI path parameters are required: an optional one (`{uploadId?}`) gives the path with and without it.
    const templates = /\{\w+\?\}/.test(route.route)
      ? [route.route.replace(/\{(\w+)\?\}/g, '{$1}'), route.route.replace(/\/?\{\w+\?\}/g, '')]
      : [route.route.replace(/\{\*(\w+)\}/g, '{$1}')];
    templates.forEach((template, variant) => {
      const inPath = new Set([...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!));
      const params = Object.fromEntries(Object.entries(route.params).filter(([key]) => inPath.has(key)).map(([key, schema]) => [key, unwrapOptional(schema)]));
      const item = (paths[`/api/${template}`] ??= {}) as Record<string, ZodOpenApiOperationObject>;
      for (const method of route.methods) {
        // Operation ids are unique: a second path or method of a row is named after it too.
        const suffix = `${variant === 0 ? '' : 'ByQuery'}${route.methods.length > 1 ? method[0] + method.slice(1).toLowerCase() : ''}`;
        item[method.toLowerCase()] = {
          operationId: `${name}${suffix}`,
          'x-function': name,
          summary: summaryOf(route),
          requestParams: { path: z.object(params), query: z.object(route.query) },
          security: route.policy.kind === 'public' ? [] : [{ bearer: [] }],
          ...(name === CSV_UPLOAD ? { requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } } } } } : {}),
          responses: responsesOf(name, route, Object.keys(params).length + Object.keys(route.query).length > 0),
        };
      }
    });
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'bulkflow',
      version: '0.1.0',
      description: 'Participant CSV uploads, their status and row errors, and the match records between states.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An Entra ID access token for the app registration; its roles are State.XX (one per state), Operator.Read and Operator.Admin.',
        },
      },
    },
    paths,
  });
}

/** The one route whose request body is documented so far: the CSV itself. */
const CSV_UPLOAD = 'uploadFile';

/** The answers a row can give: its success, then the refusals of the edge, its decoders and its policy. */
function responsesOf(name: string, route: AnyHttpRoute, decodes: boolean): ZodOpenApiResponsesObject {
  const { kind } = route.policy;
  const responses: ZodOpenApiResponsesObject = name === CSV_UPLOAD
    ? { '202': { description: 'Accepted: the file is stored; its upload id, instance id and status URL.' } }
    : { '200': { description: 'OK' } };
  if (decodes) responses['400'] = problem('A path or query value the route cannot read; the detail names the parameter.');
  if (kind === 'public') return responses;
  responses['401'] = problem('No valid bearer token.');
  responses['403'] = problem(STATE_POLICIES.has(kind) || kind === 'operator' || kind === 'matchSideWrite' ? 'No bulkflow role, or none that allows this.' : 'No bulkflow role.');
  if (['uploadRead', 'matchRead', 'matchSideWrite', 'operator'].includes(kind)) responses['404'] = problem('No such record among those the caller may read.');
  if (name === CSV_UPLOAD) {
    responses['411'] = problem('No Content-Length.');
    responses['413'] = problem('Larger than the largest file accepted.');
  }
  responses['429'] = problem('Over the per-caller rate limit; see Retry-After.');
  if (route.audit) responses['503'] = problem('The audit record could not be written: nothing is returned.');
  return responses;
}

const SUMMARIES: Record<AccessPolicy['kind'], string> = {
  public: 'Anyone, no token.',
  ownStates: 'Any bulkflow role; a state role sees its own states only.',
  stateRead: 'The state\'s own role, or an operator.',
  stateUpload: 'The state\'s own role only.',
  uploadRead: 'The upload\'s state role, or an operator; others get the 404 of a missing upload.',
  stateMatchRecords: 'The state\'s own role only.',
  matchRead: 'The roles of the record\'s two states; others get the 404 of a missing record.',
  matchSideWrite: 'The role of the side\'s state; the other state 403, anyone else the 404 of a missing record.',
  stateMatchQuery: 'The state\'s own role only.',
  operator: 'Operators only.',
};

function summaryOf(route: AnyHttpRoute): string {
  return `${route.methods.join(', ')} ${route.route} — ${SUMMARIES[route.policy.kind]}`;
}

function unwrapOptional(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

/** GET /api/openapi.json: the document, anonymous like the dashboard's files (it describes the API, holds no data). */
export function openApi() {
  let document: string | undefined;
  return async (): Promise<HttpResponseInit> => {
    document ??= JSON.stringify(openApiDocument(httpRoutes as Record<string, AnyHttpRoute>));
    return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' }, body: document };
  };
}
