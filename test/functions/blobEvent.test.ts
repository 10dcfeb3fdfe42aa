import { describe, expect, it } from 'vitest';
import { uploadIdOf } from '../../src/engine/index.js';
import { decodeBlobEvent, MalformedEventError } from '../../src/functions/blobEvent.js';

const SUBJECT = '/blobServices/default/containers/uploads/blobs/ca/participants.csv';
const URL = 'https://account.blob.core.windows.net/uploads/ca/participants.csv';

/** A BlobCreated notification as Event Grid's own schema delivers it. */
function eventGridEvent(overrides: { subject?: string; eventType?: string; data?: Record<string, unknown> } = {}) {
  return {
    id: 'e1',
    topic: '/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/account',
    subject: overrides.subject ?? SUBJECT,
    eventType: overrides.eventType ?? 'Microsoft.Storage.BlobCreated',
    eventTime: '2026-01-01T00:00:00Z',
    dataVersion: '',
    metadataVersion: '1',
    data: { api: 'PutBlob', eTag: '0x8DC1A2B3C4D5E6F', contentLength: 1234, url: URL, blobType: 'BlockBlob', ...overrides.data },
  };
}

/** The same notification in the CloudEvents 1.0 schema. */
function cloudEvent(overrides: { type?: string; data?: Record<string, unknown> } = {}) {
  return {
    specversion: '1.0',
    id: 'c1',
    source: '/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/account',
    subject: SUBJECT,
    type: overrides.type ?? 'Microsoft.Storage.BlobCreated',
    time: '2026-01-01T00:00:00Z',
    data: { api: 'PutBlockList', eTag: '"0x8DC1A2B3C4D5E6F"', contentLength: 1234, url: URL, ...overrides.data },
  };
}

const expected = { state: 'CA', container: 'uploads', blobName: 'ca/participants.csv', etag: '0x8DC1A2B3C4D5E6F' };

describe('blob event decoder', () => {
  it('decodes the Event Grid schema into the upload identity and nothing else', () => {
    const decision = decodeBlobEvent(eventGridEvent());
    expect(decision).toEqual({ kind: 'ingest', upload: expected });
    if (decision.kind !== 'ingest') throw new Error('not ingested');
    expect(uploadIdOf(decision.upload)).toBe('ca-14f6b4c5016e0e0e1e94');
  });

  it('decodes the CloudEvents schema to the same identity (quoted eTag included)', () => {
    expect(decodeBlobEvent(cloudEvent())).toEqual({ kind: 'ingest', upload: expected });
  });

  it('reads the state from the path in any case, and decodes an escaped blob name', () => {
    const decision = decodeBlobEvent(eventGridEvent({ subject: '/blobServices/default/containers/uploads/blobs/Tx/my%20file.CSV' }));
    expect(decision).toEqual({ kind: 'ingest', upload: { ...expected, state: 'TX', blobName: 'Tx/my file.CSV' } });
  });

  it('ingests every API that completes a blob, and an empty file (it fails visibly later)', () => {
    for (const api of ['PutBlob', 'PutBlockList', 'CopyBlob', 'FlushWithClose']) {
      expect(decodeBlobEvent(eventGridEvent({ data: { api } })).kind).toBe('ingest');
    }
    expect(decodeBlobEvent(eventGridEvent({ data: { api: undefined } })).kind).toBe('ingest');
    expect(decodeBlobEvent(eventGridEvent({ data: { contentLength: 0 } })).kind).toBe('ingest');
  });

  it('ignores, with the reason, what is not a complete CSV upload', () => {
    const cases: Array<[unknown, string]> = [
      [eventGridEvent({ eventType: 'Microsoft.Storage.BlobDeleted' }), 'event type Microsoft.Storage.BlobDeleted is not Microsoft.Storage.BlobCreated'],
      [cloudEvent({ type: 'Microsoft.Storage.BlobTierChanged' }), 'event type Microsoft.Storage.BlobTierChanged is not Microsoft.Storage.BlobCreated'],
      [{ ...eventGridEvent(), eventType: undefined }, 'event type undefined is not Microsoft.Storage.BlobCreated'],
      [eventGridEvent({ subject: '/blobServices/default/containers/archive/blobs/ca/p.csv' }), 'container archive is not uploads'],
      [eventGridEvent({ subject: '/blobServices/default/containers/uploads/blobs/ca/p.txt' }), 'blob name has no .csv suffix'],
      [eventGridEvent({ data: { api: 'PutBlock' } }), 'api PutBlock does not complete a blob'],
      [eventGridEvent({ subject: '/blobServices/default/containers/uploads/blobs/p.csv' }), 'blob path is not {state}/{file}.csv with a 2-letter state'],
      [eventGridEvent({ subject: '/blobServices/default/containers/uploads/blobs/cal/p.csv' }), 'blob path is not {state}/{file}.csv with a 2-letter state'],
      [eventGridEvent({ subject: '/blobServices/default/containers/uploads/blobs/ca/2026/p.csv' }), 'blob path is not {state}/{file}.csv with a 2-letter state'],
      [eventGridEvent({ subject: '/blobServices/default/containers/uploads/blobs/c1/p.csv' }), 'blob path is not {state}/{file}.csv with a 2-letter state'],
      // Two letters are not a state: the starter ingests nothing of a jurisdiction the program does not serve.
      [eventGridEvent({ subject: '/blobServices/default/containers/uploads/blobs/xx/p.csv' }), 'state XX is not the USPS code of a state, DC or a territory the program serves (e.g. CA)'],
    ];
    for (const [event, reason] of cases) expect(decodeBlobEvent(event)).toEqual({ kind: 'ignore', reason });
  });

  it('rejects malformed events as such (redelivery cannot fix them)', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'event is not an object'],
      ['Microsoft.Storage.BlobCreated', 'event is not an object'],
      [{ ...eventGridEvent(), subject: undefined }, 'subject is not a blob path'],
      [eventGridEvent({ subject: '/blobServices/default/containers/uploads' }), 'subject is not a blob path'],
      [eventGridEvent({ data: { contentLength: undefined } }), 'data.contentLength is missing'],
      [eventGridEvent({ data: { contentLength: 'many' } }), 'data.contentLength is missing'],
      [eventGridEvent({ data: { url: undefined } }), 'data.url or data.eTag is missing'],
      [eventGridEvent({ data: { eTag: 42 } }), 'data.url or data.eTag is missing'],
      [{ ...eventGridEvent(), data: undefined }, 'data.contentLength is missing'],
    ];
    for (const [event, message] of cases) {
      expect(() => decodeBlobEvent(event)).toThrow(MalformedEventError);
      expect(() => decodeBlobEvent(event)).toThrow(message);
    }
  });
});
