import { z } from 'zod';

/** The bodies of the audit, operator console and dashboard routes, as the OpenAPI document declares them. */

const time = z.iso.datetime();
const nullableTime = time.nullable();

export const auditPage = z
  .object({
    records: z.array(z.object({
      id: z.string(),
      at: time,
      callerId: z.string().meta({ description: 'The token\'s object id.' }),
      clientId: z.string(),
      roles: z.array(z.string()),
      states: z.array(z.string()).meta({ description: 'Every state whose data the request touched.' }),
      route: z.string().meta({ description: 'The route\'s function name (the operation id).' }),
      method: z.string(),
      action: z.string().nullable().meta({ description: 'Which of the route\'s actions the request took, when it takes several (the console\'s `rewind`, `restart`, `terminate`); null otherwise.' }),
      objectIds: z.array(z.string()).meta({ description: 'Upload, match or instance ids the request named or the answer returned.' }),
      recordsReturned: z.number().int().min(0).nullable(),
      personsQueried: z.number().int().min(0).nullable().meta({ description: 'Persons a real-time match query asked about; null for other requests.' }),
      outcome: z.number().int().meta({ description: 'The HTTP status answered.' }),
      requestId: z.string(),
    })),
    next: z.string().nullable().meta({ description: 'The cursor for `after`; null on the last page.' }),
  })
  .meta({ id: 'AuditPage', description: 'Who read or changed which state\'s data, newest first.' });

const consoleAction = z.enum(['rewind', 'restart', 'terminate']);

export const orchestrationTimelineBody = z
  .object({
    instanceId: z.string(),
    runtimeStatus: z.string().meta({ example: 'Completed' }),
    createdTime: time,
    lastUpdatedTime: time,
    startedAt: nullableTime,
    endedAt: nullableTime,
    steps: z.array(z.object({
      name: z.string(),
      kind: z.enum(['activity', 'subOrchestration']),
      completed: z.number().int().min(0),
      failedAttempts: z.number().int().min(0),
      outcome: z.enum(['completed', 'failed']),
      startedAt: nullableTime,
      endedAt: nullableTime,
      durationMs: z.number().min(0).nullable(),
      reasons: z.array(z.string()),
    })),
    failure: z.string().nullable(),
    rewindable: z.boolean().meta({ description: 'A rewind can replay this history: it failed on failed calls and did nothing after them.' }),
    actions: z.array(consoleAction).meta({ description: 'What an Operator.Admin may do now.' }),
  })
  .meta({ id: 'OrchestrationTimeline' });

export const orchestrationActionAccepted = z
  .object({ instanceId: z.string(), action: consoleAction, runtimeStatusBefore: z.string() })
  .meta({ id: 'OrchestrationActionAccepted' });

export const dashboardConfig = z
  .object({
    signIn: z.object({ authority: z.url(), clientId: z.string(), scope: z.string() }).nullable().meta({ description: 'Null when sign-in is not configured.' }),
  })
  .meta({ id: 'DashboardConfig', description: 'The dashboard\'s sign-in settings (`config.json`).' });

/** GET /api/openapi.json: an OpenAPI 3.1 document (its own schema is the OpenAPI specification's). */
export const openApiBody = z
  .looseObject({ openapi: z.string().regex(/^3\.1\.\d+$/), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })
  .meta({ id: 'OpenApiDocument' });
