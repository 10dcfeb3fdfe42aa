import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  identityOf, instanceIdOf, normalizeIdentity, registeredAs, uploadIdOf, uploadIdOfInstance, uploadRefOf, type UploadIdentity,
} from '../../src/engine/uploadIdentity.js';

const blob: UploadIdentity = { state: 'CA', container: 'uploads', blobName: 'ca/participants.csv', etag: '0x8DC1A2B3C4D5E6F' };

describe('upload identity', () => {
  it('derives the id stored uploads and running orchestrations already carry', () => {
    // sha256("uploads/ca/participants.csv\n0x8DC1A2B3C4D5E6F"), first 20 hex digits: existing ids must not change.
    expect(uploadIdOf(blob)).toBe('ca-14f6b4c5016e0e0e1e94');
    expect(uploadIdOf({ state: 'tx', container: 'uploads', blobName: 'tx/2026-11-23.csv', etag: '0x1' })).toBe('tx-7cb3a3e1d3f15046a8f9');
    expect(instanceIdOf(uploadIdOf(blob))).toBe('ingest-ca-14f6b4c5016e0e0e1e94');
  });

  it('gives one id to every spelling of one blob version: quoted eTag, any state case, the stored source', () => {
    const spellings = [
      { ...blob, etag: `"${blob.etag}"` },
      { ...blob, state: 'ca' },
      { ...blob, state: ' Ca ' },
      { state: 'ca', source: 'uploads/ca/participants.csv', etag: `"${blob.etag}"` },
    ];
    for (const spelling of spellings) expect(uploadIdOf(spelling)).toBe('ca-14f6b4c5016e0e0e1e94');
    expect(normalizeIdentity({ ...blob, state: 'ca', etag: `"${blob.etag}"` })).toEqual(blob);
  });

  it('gives another version, path or container another id', () => {
    const ids = new Set([
      uploadIdOf(blob),
      uploadIdOf({ ...blob, etag: '0x8DC1A2B3C4D5E70' }),
      uploadIdOf({ ...blob, blobName: 'ca/participants2.csv' }),
      uploadIdOf({ ...blob, container: 'uploads2' }),
    ]);
    expect(ids.size).toBe(4);
  });

  it('registers the normalised fields and reads the same blob back from them', () => {
    const registered = registeredAs({ ...blob, state: 'ca', etag: `"${blob.etag}"` });
    expect(registered).toEqual({ uploadId: 'ca-14f6b4c5016e0e0e1e94', state: 'CA', source: 'uploads/ca/participants.csv', etag: blob.etag });
    expect(identityOf(registered)).toEqual(blob);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9-]{3,20}$/),
        fc.string({ minLength: 1 }),
        fc.stringMatching(/^0x[0-9A-F]{1,16}$/),
        fc.stringMatching(/^[a-zA-Z]{2}$/),
        (container, blobName, etag, state) => {
          const identity = normalizeIdentity({ state, container, blobName, etag });
          const stored = registeredAs(identity);
          expect(identityOf(stored)).toEqual(identity);
          expect(uploadIdOf(identityOf(stored))).toBe(stored.uploadId);
        },
      ),
    );
  });

  it('refuses what is not an upload: a state that is not two letters, a source without a container', () => {
    expect(() => uploadIdOf({ ...blob, state: 'CAL' })).toThrow('a state is two letters, not "CAL"');
    expect(() => uploadIdOf({ ...blob, state: 'C1' })).toThrow('a state is two letters');
    expect(() => identityOf({ state: 'CA', source: 'participants.csv', etag: '1' })).toThrow('upload source participants.csv is not container/blob');
    expect(() => identityOf({ state: 'CA', source: '/ca/participants.csv', etag: '1' })).toThrow('is not container/blob');
  });

  it('reads an upload id from an upload id or an instance id', () => {
    expect(uploadIdOfInstance('ingest-ca-14f6b4c5016e0e0e1e94')).toBe('ca-14f6b4c5016e0e0e1e94');
    expect(uploadIdOfInstance('ca-14f6b4c5016e0e0e1e94')).toBe('ca-14f6b4c5016e0e0e1e94');
    expect(uploadIdOfInstance(instanceIdOf('tx-7cb3a3e1d3f15046a8f9'))).toBe('tx-7cb3a3e1d3f15046a8f9');
  });

  it('looks an upload up by its source, its upload id or its instance id', () => {
    expect(uploadRefOf('uploads/ca/participants.csv')).toEqual({ source: 'uploads/ca/participants.csv' });
    expect(uploadRefOf('ingest-ca-14f6b4c5016e0e0e1e94')).toEqual({ uploadId: 'ca-14f6b4c5016e0e0e1e94' });
    expect(uploadRefOf('ca-14f6b4c5016e0e0e1e94')).toEqual({ uploadId: 'ca-14f6b4c5016e0e0e1e94' });
  });
});
