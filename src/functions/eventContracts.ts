import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { EVENT_SOURCE, EVENT_TYPES, eventDataJsonSchema, type EventType } from '../engine/index.js';
import { triggerContracts } from '../functionNames.js';
import { json } from './httpEncoders.js';

/**
 * The contract of the events: each type's data as JSON Schema (served at the URL its events name as `dataschema`)
 * and the AsyncAPI 3.0 document of the `upload-events` hub. Both come from the engine's event schemas (eventData.ts).
 */

/** `{type}` of GET /api/event-schemas/{type}. */
export const eventTypeParam = z
  .enum(Object.keys(EVENT_TYPES) as [EventType, ...EventType[]], { error: `type must be one of ${Object.keys(EVENT_TYPES).join(', ')}` })
  .meta({ description: 'A CloudEvent type the app publishes.', example: 'gov.bulkflow.upload.completed' });

export const jsonSchemaBody = z
  .looseObject({ $schema: z.string(), $id: z.url() })
  .meta({ id: 'JsonSchema', description: 'A JSON Schema (2020-12).' });

export const asyncApiBody = z
  .looseObject({ asyncapi: z.string().regex(/^3\.\d+\.\d+$/), info: z.looseObject({ title: z.string(), version: z.string() }), channels: z.record(z.string(), z.unknown()) })
  .meta({ id: 'AsyncApiDocument' });

/** GET /api/event-schemas/{type}: the JSON Schema of the type's data, its `$id` the URL it was asked at. */
export function eventSchema() {
  return async ({ request, params }: { request: HttpRequest; params: { type: EventType } }): Promise<HttpResponseInit> =>
    json(jsonSchemaBody, eventDataJsonSchema(params.type, new URL(request.url).href) as z.input<typeof jsonSchemaBody>, 200, { 'cache-control': 'no-cache' });
}

/** GET /api/asyncapi.json: the hub's AsyncAPI document. */
export function asyncApi() {
  let document: ReturnType<typeof asyncApiDocument> | undefined;
  return async (): Promise<HttpResponseInit> => json(asyncApiBody, (document ??= asyncApiDocument()), 200, { 'cache-control': 'no-cache' });
}

const messageName = (type: EventType) => type.replace(/^gov\.bulkflow\./, '').replace(/\.(\w)/g, (_, letter: string) => letter.toUpperCase());

/** The AsyncAPI 3.0 document of the `upload-events` hub: its messages (CloudEvents), partitioning, consumer groups and readers. */
export function asyncApiDocument() {
  const types = Object.keys(EVENT_TYPES) as EventType[];
  const refs = types.map((type) => ({ $ref: `#/channels/uploadEvents/messages/${messageName(type)}` }));
  const { consumerGroup } = triggerContracts.matchAnalysis;
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'bulkflow events',
      version: '0.1.0',
      description:
        'The CloudEvents 1.0 (structured JSON) bulkflow publishes on Azure Event Hubs. Events carry ids, counts and field names, never ' +
        'row values: participants and match records are read through the state-scoped HTTP API (/api/openapi.json). Delivery is ' +
        'at least once, in order per state: consumers deduplicate by `id`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    defaultContentType: 'application/cloudevents+json',
    servers: {
      eventHubs: {
        host: '{namespace}.servicebus.windows.net',
        protocol: 'amqps',
        protocolVersion: '1.0',
        description: 'The deployment\'s Event Hubs namespace (infra/bicep/modules/eventHubs.bicep). Local authentication (SAS keys) is off.',
        variables: { namespace: { description: 'The namespace name of the deployment.' } },
        security: [{ $ref: '#/components/securitySchemes/entra' }],
      },
    },
    channels: {
      uploadEvents: {
        address: 'upload-events',
        title: 'upload-events',
        description:
          'One hub for every event type. Partition key: the `state` of the event\'s data, so each state\'s events keep their order on ' +
          'one partition. Consumer groups: `' + consumerGroup + '` (the app\'s own match analysis, which reads upload.completed) and ' +
          '`match-notifications` (the program\'s notifier, which forwards matches.updated and matches.dispositionUpdated to each ' +
          'state by partition key). Reading needs the Azure Event Hubs Data Receiver role on the hub, granted to the app and the ' +
          'program\'s notifier only: states are told through their notifier and read the records themselves through the API, ' +
          'which checks their role.',
        messages: Object.fromEntries(types.map((type) => [messageName(type), { $ref: `#/components/messages/${messageName(type)}` }])),
      },
    },
    operations: {
      publishUploadEvents: {
        action: 'send',
        channel: { $ref: '#/channels/uploadEvents' },
        summary: 'bulkflow publishes each event once from its transactional outbox (retried until Event Hubs accepts it).',
        messages: refs,
      },
      receiveMatchAnalysis: {
        action: 'receive',
        channel: { $ref: '#/channels/uploadEvents' },
        summary: `Consumer group \`${consumerGroup}\`: the app's match analysis (Event Hub trigger).`,
        messages: [{ $ref: `#/channels/uploadEvents/messages/${messageName('gov.bulkflow.upload.completed')}` }],
      },
      receiveMatchNotifications: {
        action: 'receive',
        channel: { $ref: '#/channels/uploadEvents' },
        summary: 'Consumer group `match-notifications`: the program\'s notifier, per state (partition key).',
        messages: [
          { $ref: `#/channels/uploadEvents/messages/${messageName('gov.bulkflow.matches.updated')}` },
          { $ref: `#/channels/uploadEvents/messages/${messageName('gov.bulkflow.matches.dispositionUpdated')}` },
        ],
      },
    },
    components: {
      securitySchemes: {
        entra: {
          type: 'oauth2',
          description: 'Microsoft Entra ID: a managed identity or app registration holding Azure Event Hubs Data Receiver (or Sender) on the hub.',
          flows: {
            clientCredentials: {
              tokenUrl: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token',
              availableScopes: { 'https://eventhubs.azure.net/.default': 'Event Hubs data access, as the roles on the hub allow.' },
            },
          },
          scopes: ['https://eventhubs.azure.net/.default'],
        },
      },
      messages: Object.fromEntries(types.map((type) => [messageName(type), {
        name: type,
        title: type,
        summary: EVENT_TYPES[type].summary,
        contentType: 'application/cloudevents+json',
        payload: cloudEvent(type),
      }])),
    },
  };
}

/** The CloudEvent envelope of a type (draft-07, the AsyncAPI schema format), its data inline. */
function cloudEvent(type: EventType) {
  const { $schema: _, ...data } = z.toJSONSchema(EVENT_TYPES[type].data, { target: 'draft-7', io: 'output' });
  return {
    type: 'object',
    required: ['specversion', 'id', 'type', 'source', 'subject', 'time', 'datacontenttype', 'data'],
    properties: {
      specversion: { const: '1.0' },
      id: { type: 'string', description: 'Unique per event: deduplicate by it.' },
      type: { const: type },
      source: { const: EVENT_SOURCE },
      subject: { type: 'string', description: 'The state and record the event is about, e.g. `states/CA/uploads/{uploadId}`.' },
      time: { type: 'string', format: 'date-time' },
      datacontenttype: { const: 'application/json' },
      dataschema: { type: 'string', format: 'uri', description: 'Where the API serves the JSON Schema of `data`: /api/event-schemas/' + type },
      data,
    },
  };
}
