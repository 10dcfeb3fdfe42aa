import { createHash } from 'node:crypto';

/**
 * Who an upload is. One version of one blob is one upload; its upload id, the instance id of its ingest
 * orchestration and the `source` the engine stores are all derived here and nowhere else, so every door
 * (the starter, the engine, the CLI, tests) names the same upload the same way.
 */
export interface UploadIdentity {
  /** Two-letter state code. */
  state: string;
  container: string;
  /** Path inside the container, e.g. `ca/2026-11-23.csv`. */
  blobName: string;
  /** As storage reports it: with or without the quotes of the HTTP header. */
  etag: string;
}

/** An upload as the engine registers it: any named file version (for a blob, `source` is `container/blobName`). */
export interface UploadSource {
  state: string;
  source: string;
  etag: string;
}

/** What an upload is registered as: every field normalised, and the id derived from them. */
export interface Registered {
  uploadId: string;
  /** Upper case. */
  state: string;
  source: string;
  /** Without quotes. */
  etag: string;
}

/** The identity in its one spelling: state upper case, eTag without quotes. */
export function normalizeIdentity(identity: UploadIdentity): UploadIdentity {
  const { state, container, blobName, etag } = identity;
  return { state: normalizeState(state), container, blobName, etag: normalizeEtag(etag) };
}

/** Event Grid reports eTags bare, blob SDK responses quoted (`"0x8D…"`): both name the same version. */
function normalizeEtag(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

/** Two letters: which jurisdictions the program serves is the doors' rule (jurisdictions.ts), not the identity's. */
function normalizeState(state: string): string {
  const upper = state.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(upper)) throw new Error(`a state is two letters, not ${JSON.stringify(state)}`);
  return upper;
}

/**
 * Readable and deterministic: `{state}-{first 20 hex of sha256(source + "\n" + eTag)}`. Stored ids and
 * orchestration instance ids depend on these exact bytes.
 */
export function registeredAs(upload: UploadIdentity | UploadSource): Registered {
  const state = normalizeState(upload.state);
  const source = 'source' in upload ? upload.source : `${upload.container}/${upload.blobName}`;
  const etag = normalizeEtag(upload.etag);
  const digest = createHash('sha256').update(`${source}\n${etag}`).digest('hex');
  return { uploadId: `${state.toLowerCase()}-${digest.slice(0, 20)}`, state, source, etag };
}

export function uploadIdOf(upload: UploadIdentity | UploadSource): string {
  return registeredAs(upload).uploadId;
}

/** The blob a registered upload reads: the inverse of {@link registeredAs} for blob sources. */
export function identityOf(registered: UploadSource): UploadIdentity {
  const slash = registered.source.indexOf('/');
  if (slash <= 0) throw new Error(`upload source ${registered.source} is not container/blob`);
  const { state, source, etag } = registered;
  return normalizeIdentity({ state, container: source.slice(0, slash), blobName: source.slice(slash + 1), etag });
}

const INSTANCE_PREFIX = 'ingest-';

/** The ingest orchestration of an upload: `ingest-ca-…`, readable and prefix-searchable in the Durable Functions monitor. */
export function instanceIdOf(uploadId: string): string {
  return `${INSTANCE_PREFIX}${uploadId}`;
}

/** An upload id from an upload id or its orchestration's instance id (the status API and CLI accept both). */
export function uploadIdOfInstance(id: string): string {
  return id.startsWith(INSTANCE_PREFIX) ? id.slice(INSTANCE_PREFIX.length) : id;
}

/** An upload id as {@link registeredAs} makes it: the state in lower case, 20 hex digits. */
export const UPLOAD_ID = /^([a-z]{2})-([0-9a-f]{20})$/;
/** An upload id or the instance id of its ingest orchestration. */
export const UPLOAD_OR_INSTANCE_ID = /^(?:ingest-)?[a-z]{2}-[0-9a-f]{20}$/;

/** How an upload is looked up: by its id, or as the latest upload of a source (`uploads/ca/file.csv`). */
export type UploadRef = { readonly uploadId: string } | { readonly source: string };

/** An upload named in free text (the CLI): a source has a slash (`uploads/ca/file.csv`), an id or instance id none. */
export function uploadRefOf(text: string): UploadRef {
  return text.includes('/') ? { source: text } : { uploadId: uploadIdOfInstance(text) };
}
