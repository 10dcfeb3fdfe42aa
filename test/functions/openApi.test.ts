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
      const methods = operations.filter((o) => o['x-function'] === name && !o.operationId.includes('ByQuery')).map((o) => o.method.toUpperCase());
      expect(methods, name).toEqual([...route.methods]);
    }
    expect(operations.find((o) => o.operationId === 'uploadStatusByQuery')?.path).toBe('/api/uploads');
    expect(operations.find((o) => o.operationId === 'uploadStatus')?.path).toBe('/api/uploads/{uploadId}');
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
      expect(operation.security, operation.operationId).toEqual(open ? [] : [{ bearer: [] }]);
      const refusals = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
      if (!open) expect(refusals.map(([status]) => status), operation.operationId).toEqual(expect.arrayContaining(['401', '403', '429']));
      for (const [status, response] of refusals) {
        expect(response.content?.['application/problem+json']?.schema.$ref, `${operation.operationId} ${status}`).toBe('#/components/schemas/ProblemDetails');
      }
    }
    expect(Object.keys(operations.find((o) => o.operationId === 'matchRecord')!.responses)).toEqual(expect.arrayContaining(['404', '503']));
  });
});
