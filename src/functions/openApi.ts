import type { HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import {
  createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiRequestBodyObject, type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
// A cycle with the table, which names this handler: only functions cross it, and they run after both loaded.
import { problemDetails } from './httpEncoders.js';
import { httpRoutes, STATE_POLICIES, type AccessPolicy, type AnyHttpRoute, type Answer, type RequestBody } from './httpRoutes.js';

const problem = (description: string): ZodOpenApiResponseObject => ({ description, content: { 'application/problem+json': { schema: problemDetails } } });

/**
 * The OpenAPI 3.1 document of the API, derived from the route table: every row's path, method, access policy
 * (bearer token and the roles it needs), the decoders of its path and query (zod schemas: their types, ranges,
 * patterns and defaults), its request body, its answers (the schemas its handler's bodies are typed with) and the
 * refusals its policy and decoders add. Built once per process.
 */
export function openApiDocument(routes: Readonly<Record<string, AnyHttpRoute>>): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const [name, route] of Object.entries(routes)) {
    templatesOf(route).forEach(([template, variant]) => {
      const inPath = new Set([...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!));
      const params = Object.fromEntries(Object.entries(route.params).filter(([key]) => inPath.has(key)).map(([key, schema]) => [key, unwrapOptional(schema)]));
      const item = (paths[`/api/${template}`] ??= {}) as Record<string, ZodOpenApiOperationObject>;
      const decodes = Object.keys(params).length + Object.keys(route.query).length > 0;
      for (const method of route.methods) {
        // Operation ids are unique: a second path or method of a row is named after it too.
        const suffix = `${variant}${route.methods.length > 1 ? method[0] + method.slice(1).toLowerCase() : ''}`;
        const body = method === 'GET' || method === 'DELETE' ? undefined : route.requestBody;
        item[method.toLowerCase()] = {
          operationId: `${name}${suffix}`,
          'x-function': name,
          summary: summaryOf(route),
          requestParams: { path: z.object(params), query: z.object(route.query), ...(body?.headers ? { header: headerParams(body.headers) } : {}) },
          security: securityOf(route.policy),
          ...(body ? { requestBody: requestBodyOf(body) } : {}),
          responses: responsesOf(route, method, decodes, body),
        };
      }
    });
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'bulkflow',
      version: '0.1.0',
      description:
        'Participant CSV uploads, their status and row errors, and the match records between states. Every refusal is an RFC 9457 problem detail. ' +
        'The events the app publishes are described by /api/asyncapi.json, their data by /api/event-schemas/{type}.',
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
          description:
            'An Entra ID access token for the app registration. Its app roles: `State.XX` (one per state: its uploads, status and match records), ' +
            '`Operator.Read` (every state\'s status and counts, never participants) and `Operator.Admin` (also the console\'s actions and reopening a match). ' +
            'Each operation lists the roles that may call it, any one of them sufficing; `State.XX` is the state of its path.',
        },
      },
    },
    paths,
  });
}

/**
 * The OpenAPI paths of a route and the suffix of their operation ids. OpenAPI path parameters are required: an
 * optional one (`{uploadId?}`) gives the path with and without it; an optional catch-all (`{*asset}`) the path with
 * it, its directory (`dashboard/`) and the bare name the host redirects from.
 */
function templatesOf(route: AnyHttpRoute): Array<[string, string]> {
  const optional = /\{(\w+)\?\}/.exec(route.route);
  if (optional) return [[route.route.replace(optional[0], `{${optional[1]!}}`), ''], [route.route.replace(`/${optional[0]}`, ''), 'ByQuery']];
  const catchAll = /\{\*(\w+)\}/.exec(route.route);
  if (!catchAll) return [[route.route, '']];
  const template = route.route.replace(catchAll[0], `{${catchAll[1]!}}`);
  if (!(route.params[catchAll[1]!] instanceof z.ZodOptional)) return [[template, '']];
  const directory = route.route.replace(catchAll[0], '');
  return [[template, ''], [directory, 'Index'], [directory.replace(/\/$/, ''), 'Root']];
}

/** The roles that may call a route (OpenAPI 3.1: role names in the requirement of a non-OAuth scheme); any one suffices. */
function securityOf(policy: AccessPolicy): Array<Record<string, string[]>> {
  const state = ['State.XX'];
  const roles: Record<AccessPolicy['kind'], string[][]> = {
    public: [],
    ownStates: [state, ['Operator.Read'], ['Operator.Admin']],
    stateRead: [state, ['Operator.Read'], ['Operator.Admin']],
    uploadRead: [state, ['Operator.Read'], ['Operator.Admin']],
    stateUpload: [state],
    stateMatchRecords: [state],
    matchRead: [state],
    matchSideWrite: [state],
    stateMatchQuery: [state],
    operator: policy.kind === 'operator' && policy.admin ? [['Operator.Admin']] : [['Operator.Read'], ['Operator.Admin']],
  };
  return roles[policy.kind].map((needed) => ({ bearer: needed }));
}

function headerParams(headers: NonNullable<RequestBody['headers']>) {
  return z.object(Object.fromEntries(Object.entries(headers).map(([name, header]) => {
    const schema = z.string().meta({ description: header.description, ...(header.example ? { example: header.example } : {}) });
    return [name, header.required ? schema : schema.optional()];
  })));
}

function requestBodyOf(body: RequestBody): ZodOpenApiRequestBodyObject {
  return {
    required: true,
    description: body.description,
    content: Object.fromEntries(Object.entries(body.content).map(([media, schema]) => [media, { schema: schema === 'bytes' ? { type: 'string', contentMediaType: media } : schema }])),
  };
}

/** The answers of one method of a row: its own, then the refusals of the edge, its decoders and its policy. */
function responsesOf(route: AnyHttpRoute, method: string, decodes: boolean, body: RequestBody | undefined): ZodOpenApiResponsesObject {
  const { kind } = route.policy;
  const refusals = new Map<number, string[]>();
  const refuse = (status: number, description: string) => refusals.set(status, [...(refusals.get(status) ?? []), description]);
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    if (typeof answer === 'string') refuse(Number(status), answer);
    else if (!answer.method || answer.method === method) responses[status as `${1 | 2 | 3}${string}`] = answerOf(answer);
  }
  if (decodes) refuse(400, 'A path or query value the route cannot read: the detail names the parameter.');
  const json = Object.entries(body?.content ?? {}).filter(([, schema]) => schema !== 'bytes').map(([media]) => media);
  if (json.length > 0) {
    refuse(400, 'A body that is not JSON, or not the JSON described: the detail names each position and rule, never a value.');
    refuse(413, `A body over ${(body!.maxBytes ?? 0) / 1024} KiB.`);
    refuse(415, `A body that is not ${json.join(' or ')}.`);
  }
  if (kind !== 'public') {
    refuse(401, 'No valid bearer token (WWW-Authenticate says why).');
    refuse(403, STATE_POLICIES.has(kind) || kind === 'operator' || kind === 'matchSideWrite' ? 'No bulkflow role, or none that allows this.' : 'No bulkflow role.');
    if (['uploadRead', 'matchRead', 'matchSideWrite', 'operator'].includes(kind)) refuse(404, 'No such record among those the caller may read.');
    refuse(429, 'Over the per-caller rate limit: Retry-After says when to try again.');
    if (route.audit) refuse(503, 'The audit record could not be written: nothing is returned.');
  }
  for (const status of [...refusals.keys()].sort((a, b) => a - b)) {
    const response = problem(refusals.get(status)!.join(' Or: '));
    const header = REFUSAL_HEADERS[status];
    responses[String(status) as `4${string}`] = header ? { ...response, headers: { [header[0]]: { description: header[1], required: true, schema: { type: 'string' } } } } : response;
  }
  return responses;
}

/** The header a refusal of the edge always carries. */
const REFUSAL_HEADERS: Record<number, [string, string]> = {
  401: ['www-authenticate', 'The Bearer challenge, with the reason the token was refused.'],
  429: ['retry-after', 'Seconds until the caller\'s budget allows another request.'],
};

function answerOf(answer: Exclude<Answer, string>): ZodOpenApiResponseObject {
  const content = {
    ...(answer.body ? { 'application/json': { schema: answer.body } } : {}),
    ...Object.fromEntries((answer.media ?? []).map((media) => [media, { schema: { type: 'string' as const } }])),
  };
  return {
    description: answer.description,
    ...(Object.keys(content).length > 0 ? { content } : {}),
    ...(answer.headers
      ? { headers: Object.fromEntries(Object.entries(answer.headers).map(([name, description]) => [name, { description, required: true, schema: { type: 'string' as const } }])) }
      : {}),
  };
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
