import { describe, expect, it } from 'vitest';
import { httpRoutes, type AnyHttpRoute } from '../../src/functions/httpRoutes.js';
import { openApiDocument } from '../../src/functions/openApi.js';

type Operation = {
  operationId: string;
  'x-function': string;
  security: unknown[];
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: Record<string, unknown> }>;
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
};

describe('the OpenAPI document, derived from the route table', () => {
  const routes = httpRoutes as Record<string, AnyHttpRoute>;
  const document = openApiDocument(routes) as unknown as { openapi: string; paths: Record<string, Record<string, Operation>>; components: Record<string, Record<string, unknown>> };
  const operations = Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ path, method, ...operation })));

  it('is OpenAPI 3.1 and names every row of the table, under its function name, with its methods', () => {
    expect(document.openapi).toBe('3.1.0');
    expect([...new Set(operations.map((o) => o['x-function']))].sort()).toEqual(Object.keys(routes).sort());
    expect(new Set(operations.map((o) => o.operationId)).size).toBe(operations.length);
    for (const [name, route] of Object.entries(routes)) {
      const methods = operations.filter((o) => o['x-function'] === name && !/(ByQuery|Index|Root)$/.test(o.operationId)).map((o) => o.method.toUpperCase());
      expect(methods, name).toEqual([...route.methods]);
    }
    expect(operations.find((o) => o.operationId === 'uploadStatusByQuery')?.path).toBe('/api/uploads');
    expect(operations.find((o) => o.operationId === 'uploadStatus')?.path).toBe('/api/uploads/{uploadId}');
    expect(operations.filter((o) => o['x-function'] === 'dashboard').map((o) => o.path)).toEqual(['/api/dashboard/{asset}', '/api/dashboard/', '/api/dashboard']);
  });

  it('documents each decoder: required path parameters, query ranges and defaults, the jurisdictions', () => {
    const errors = operations.find((o) => o.operationId === 'uploadErrors')!;
    expect(errors.parameters?.find((p) => p.name === 'uploadId')).toMatchObject({ in: 'path', required: true, schema: { type: 'string', pattern: expect.any(String) } });
    expect(errors.parameters?.find((p) => p.name === 'limit')).toMatchObject({ in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } });
    const matches = operations.find((o) => o.operationId === 'stateMatches')!;
    expect(matches.parameters?.find((p) => p.name === 'status')?.schema).toMatchObject({ enum: expect.arrayContaining(['open', 'closed']), default: 'open' });
    expect(matches.parameters?.find((p) => p.name === 'state')).toMatchObject({ in: 'path', required: true, schema: { type: 'string' } });
  });

  it('answers every refusal with a problem detail, and asks a bearer token of every route but the public ones', () => {
    expect(document.components.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const operation of operations) {
      const open = routes[operation['x-function']]!.policy.kind === 'public';
      if (open) expect(operation.security, operation.operationId).toEqual([]);
      else expect(operation.security.length, operation.operationId).toBeGreaterThan(0);
      const refusals = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
      if (!open) expect(refusals.map(([status]) => status), operation.operationId).toEqual(expect.arrayContaining(['401', '403', '429']));
      for (const [status, response] of refusals) {
        expect(response.content?.['application/problem+json']?.schema.$ref, `${operation.operationId} ${status}`).toBe('#/components/schemas/ProblemDetails');
      }
    }
    expect(Object.keys(operations.find((o) => o.operationId === 'matchRecord')!.responses)).toEqual(expect.arrayContaining(['404', '503']));
  });

  it('names the roles each route needs, any one sufficing: a state\'s own role, or the operators\'', () => {
    const security = (id: string) => operations.find((o) => o.operationId === id)!.security;
    expect(security('uploadFile')).toEqual([{ bearer: ['State.XX'] }]);
    expect(security('stateUploads')).toEqual([{ bearer: ['State.XX'] }, { bearer: ['Operator.Read'] }, { bearer: ['Operator.Admin'] }]);
    expect(security('orchestrationAction')).toEqual([{ bearer: ['Operator.Admin'] }]);
    expect(security('orchestration')).toEqual([{ bearer: ['Operator.Read'] }, { bearer: ['Operator.Admin'] }]);
  });

  it('describes every success body by a named schema, and each request body', () => {
    for (const operation of operations) {
      const successes = Object.entries(operation.responses).filter(([status]) => Number(status) < 400);
      expect(successes.length, operation.operationId).toBeGreaterThan(0);
      for (const [status, response] of successes) {
        if (['204', '308'].includes(status)) continue;
        expect(response.content?.['application/json']?.schema.$ref, `${operation.operationId} ${status}`).toMatch(/^#\/components\/schemas\//);
      }
    }
    const byId = (id: string) => operations.find((o) => o.operationId === id)! as Operation & { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } };
    expect(byId('uploadFile').requestBody?.content['text/csv']?.schema).toEqual({ type: 'string', contentMediaType: 'text/csv' });
    expect(byId('uploadSessionPart').requestBody?.content['application/octet-stream']).toBeDefined();
    expect(byId('uploadSessionPart').parameters?.find((p) => p.name === 'content-digest')).toMatchObject({ in: 'header', required: true });
    expect(byId('matchDisposition').parameters?.find((p) => p.name === 'if-match')).toMatchObject({ in: 'header', required: true });
    expect(Object.keys(byId('matchDisposition').responses)).toEqual(expect.arrayContaining(['200', '409', '412', '415', '428']));
    expect(byId('createUploadSession').requestBody?.content['application/json']?.schema.$ref).toBe('#/components/schemas/UploadSessionRequest');
    expect(Object.keys(byId('uploadSessionDelete').responses)).toContain('204');
    expect(Object.keys(byId('uploadSessionGet').responses)).not.toContain('204');
    const match = document.components.schemas?.Match as { required: string[]; additionalProperties: boolean };
    expect(match.required).toEqual(expect.arrayContaining(['matchId', 'participant', 'otherParticipant', 'disposition', 'version']));
    expect(match.additionalProperties).toBe(false);
  });
});
