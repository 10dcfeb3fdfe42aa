import { JURISDICTION_RULE, jurisdictionOf, normalizeIdentity, type UploadIdentity } from '../engine/index.js';
import { triggerContracts } from '../functionNames.js';

/**
 * Decodes what a storage "blob created" notification means for ingestion. Accepts both the Event Grid
 * schema and the CloudEvents 1.0 schema, because a subscription may deliver either.
 */
export type BlobEventDecision = { kind: 'ingest'; upload: UploadIdentity } | { kind: 'ignore'; reason: string };

/** The event cannot be read as a blob notification: redelivering it would not help. */
export class MalformedEventError extends Error {}

const { eventType: BLOB_CREATED, uploadsContainer: UPLOADS_CONTAINER } = triggerContracts.blobCreatedStarter;
/** Operations that leave a complete blob behind; others (e.g. a block staged by PutBlock) do not. */
const COMPLETE_WRITE_APIS = new Set(['PutBlob', 'PutBlockList', 'CopyBlob', 'FlushWithClose']);
const SUBJECT = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/;
const STATE_PATH = /^([A-Za-z]{2})\/[^/]+\.csv$/i;

interface BlobCreatedData {
  api?: unknown;
  url?: unknown;
  eTag?: unknown;
  contentLength?: unknown;
}

export function decodeBlobEvent(event: unknown): BlobEventDecision {
  if (!event || typeof event !== 'object') throw new MalformedEventError('event is not an object');
  const e = event as Record<string, unknown>;
  const type = e.eventType ?? e.type;
  if (type !== BLOB_CREATED) return { kind: 'ignore', reason: `event type ${String(type)} is not ${BLOB_CREATED}` };
  const subject = typeof e.subject === 'string' ? e.subject : '';
  const match = SUBJECT.exec(subject);
  if (!match) throw new MalformedEventError('subject is not a blob path');
  const container = match[1]!;
  const blobName = decodeURIComponent(match[2]!);
  const data = (e.data ?? {}) as BlobCreatedData;
  if (container !== UPLOADS_CONTAINER) return { kind: 'ignore', reason: `container ${container} is not ${UPLOADS_CONTAINER}` };
  if (!blobName.toLowerCase().endsWith('.csv')) return { kind: 'ignore', reason: 'blob name has no .csv suffix' };
  if (typeof data.api === 'string' && !COMPLETE_WRITE_APIS.has(data.api)) {
    return { kind: 'ignore', reason: `api ${data.api} does not complete a blob` };
  }
  // Size and URL are not carried on (the upload reads the blob by name and eTag), but an event without them is
  // not a storage notification.
  if (!Number.isFinite(Number(data.contentLength))) throw new MalformedEventError('data.contentLength is missing');
  // An empty file is still an upload: it fails visibly (empty_file) instead of leaving the uploader without an answer.
  const statePath = STATE_PATH.exec(blobName);
  if (!statePath) return { kind: 'ignore', reason: 'blob path is not {state}/{file}.csv with a 2-letter state' };
  // Nothing of a state the program does not serve is ingested: no role could ever read it.
  if (!jurisdictionOf(statePath[1]!)) return { kind: 'ignore', reason: `state ${statePath[1]!.toUpperCase()} is not ${JURISDICTION_RULE}` };
  if (typeof data.url !== 'string' || typeof data.eTag !== 'string') {
    throw new MalformedEventError('data.url or data.eTag is missing');
  }
  return { kind: 'ingest', upload: normalizeIdentity({ state: statePath[1]!, container, blobName, etag: data.eTag }) };
}
