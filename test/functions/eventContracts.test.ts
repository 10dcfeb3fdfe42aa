import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, eventDataJsonSchema, eventSchemaUrl, type EventType } from '../../src/engine/index.js';
import { asyncApiDocument } from '../../src/functions/eventContracts.js';

describe('the events\' contract', () => {
  const types = Object.keys(EVENT_TYPES) as EventType[];

  it('serves a JSON Schema 2020-12 per event type, at the URL its events name as dataschema', () => {
    expect(types.sort()).toEqual([
      'gov.bulkflow.matches.dispositionUpdated', 'gov.bulkflow.matches.updated', 'gov.bulkflow.upload.completed', 'gov.bulkflow.upload.failed',
    ]);
    expect(eventSchemaUrl('bulkflow.azurewebsites.net', 'gov.bulkflow.upload.completed')).toBe('https://bulkflow.azurewebsites.net/api/event-schemas/gov.bulkflow.upload.completed');
    expect(eventSchemaUrl('localhost:7071', 'gov.bulkflow.matches.updated')).toBe('http://localhost:7071/api/event-schemas/gov.bulkflow.matches.updated');
    const ajv = new Ajv2020({ allErrors: true });
    addFormats.default(ajv);
    const completed = ajv.compile(eventDataJsonSchema('gov.bulkflow.upload.completed', 'https://x/api/event-schemas/gov.bulkflow.upload.completed'));
    const data = { uploadId: 'ca-0123456789abcdef0123', state: 'CA', source: 'uploads/ca/a.csv', status: 'complete', activated: true, rowsTotal: 3, rowsCommitted: 3, rowsRejected: 0 };
    expect(completed(data)).toBe(true);
    // A row value an event must never carry is not in the contract either.
    expect(completed({ ...data, lds_hash: 'a'.repeat(128) })).toBe(false);
    expect(completed({ ...data, rowsCommitted: undefined })).toBe(false);
    // matches.updated: a run's counts, or a real-time query's records; nothing in between.
    const updated = ajv.compile(eventDataJsonSchema('gov.bulkflow.matches.updated', 'https://x/api/event-schemas/gov.bulkflow.matches.updated'));
    expect(updated({ state: 'TX', runId: 'r', uploadId: 'ca-1', uploadState: 'CA', new: 1, stillOpen: 0, closed: 0 })).toBe(true);
    expect(updated({ state: 'TX', initiator: 'query', queryId: 'q', queryState: 'CA', new: 1, matchIds: ['q3U2nS0xTzW4pY7a'] })).toBe(true);
    expect(updated({ state: 'TX', initiator: 'query', queryId: 'q', queryState: 'CA', new: 1 })).toBe(false);
  });

  it('describes the upload-events hub in AsyncAPI 3.0: every type, the partition key, the consumer groups and who reads', () => {
    const document = asyncApiDocument();
    expect(document.asyncapi).toBe('3.0.0');
    expect(document.channels.uploadEvents.address).toBe('upload-events');
    expect(Object.values(document.components.messages).map((message) => message.name).sort()).toEqual(types.sort());
    expect(document.channels.uploadEvents.description).toMatch(/Partition key: the `state`/);
    expect(document.channels.uploadEvents.description).toMatch(/`match-analysis`.*`match-notifications`/s);
    expect(document.channels.uploadEvents.description).toMatch(/Data Receiver/);
    for (const message of Object.values(document.components.messages)) {
      expect(message.payload.properties.type).toEqual({ const: message.name });
      const data = message.payload.properties.data as { anyOf?: object[] };
      for (const shape of data.anyOf ?? [data]) expect(shape).toMatchObject({ type: 'object', additionalProperties: false });
    }
  });
});
