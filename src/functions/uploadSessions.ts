import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type pg from 'pg';
import type { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import { createStagedUploads, IncompleteBodyError, type StagedUploads } from '../adapters/stagedUploads.js';
import {
  beginVerify, endSession, expireSessions, findSession, instanceIdOf, listSessions, openSession, partLayout, type ReceivedPart, receivedParts,
  recordPart, type UploadSession,
} from '../engine/index.js';
import { functionNames, triggerContracts } from '../functionNames.js';
import type { SessionRef } from '../ingestContracts.js';
import { missingParts, verifyAndPublish } from './sessionPublish.js';
import { json, problem } from './httpEncoders.js';
import {
  FILE_NAME_RULE, isSafeFileName, partReceived, uploadAccepted, uploadSession, uploadSessionList, type uploadSessionRequest,
} from './uploadBodies.js';

const HOUR_MS = 3_600_000;

export interface UploadSessionDeps {
  readonly db: () => Promise<pg.Pool>;
  readonly staged: StagedUploads;
  readonly containerName: string;
  /** Read per request: settings are loaded on first use. */
  readonly limits: () => { maxBytes: number; partBytes: number; abandonHours: number };
}

export function uploadSessionDeps({ settings, uploadStorage, db }: Pick<AppClients, 'settings' | 'uploadStorage' | 'db'>): UploadSessionDeps {
  const containerName = triggerContracts.blobCreatedStarter.uploadsContainer;
  return {
    db,
    staged: createStagedUploads(() => uploadStorage().getContainerClient(containerName)),
    containerName,
    limits: () => settings().uploads,
  };
}

/** A request the session API refuses, with its problem detail. */
class Refusal extends Error {
  constructor(readonly response: HttpResponseInit) {
    super(String((response.jsonBody as { detail?: string } | undefined)?.detail ?? 'refused'));
  }
}

const sessionNotFound = () =>
  problem(404, 'Upload session not found', 'there is no such upload session among your state\'s: it was committed, aborted, or expired');

/** `Content-Digest: sha-256=:<base64>:` (RFC 9530), or undefined when the header is absent. */
export function contentDigest(request: HttpRequest): Buffer | undefined {
  const header = request.headers.get('content-digest');
  if (header === null) return undefined;
  const match = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]{43}=):\s*(?:,|$)/.exec(header);
  if (!match) throw new Refusal(problem(400, 'Bad Content-Digest', 'Content-Digest must carry sha-256=:<base64 of the 32-byte SHA-256>: (RFC 9530)'));
  return Buffer.from(match[1]!, 'base64');
}

/** Content-Length as a byte count; refused when absent (chunked bodies are not accepted) or malformed. */
export function declaredLength(request: HttpRequest): number {
  const declared = request.headers.get('content-length');
  if (declared === null) throw new Refusal(problem(411, 'Length required', 'send the body with a Content-Length header (chunked uploads are not accepted)'));
  const length = Number(declared);
  if (!/^\d+$/.test(declared) || !Number.isSafeInteger(length)) throw new Refusal(problem(400, 'Bad request', 'Content-Length must be a byte count'));
  return length;
}

/** The single PUT's `{filename}` (the resumable upload's is decoded with its request body). */
export function checkFileName(fileName: string): string {
  if (!isSafeFileName(fileName)) throw new Refusal(problem(400, 'Bad file name', FILE_NAME_RULE));
  return fileName;
}

/** Turns refusals into their answers; anything else is the host's 500. */
export function answering<A extends unknown[]>(handler: (...args: A) => Promise<HttpResponseInit>) {
  return async (...args: A): Promise<HttpResponseInit> => {
    try {
      return await handler(...args);
    } catch (error) {
      if (error instanceof Refusal) return error.response;
      throw error;
    }
  };
}

function sessionPath(session: UploadSession): string {
  return `/api/states/${session.state.toUpperCase()}/upload-sessions/${session.id}`;
}

function inProgress(existing: UploadSession, request: HttpRequest): Refusal {
  const response = problem(
    409,
    'Upload in progress',
    `an upload of ${existing.fileName} for ${existing.state.toUpperCase()} is in progress (started ${existing.createdAt.toISOString()}); ` +
      'resume it, abort it, or wait until it is committed',
  );
  const session = new URL(sessionPath(existing), request.url).href;
  return new Refusal({ ...response, jsonBody: { ...(response.jsonBody as object), session } });
}

/** What a client needs to resume: the parts held, the parts still missing, where to send them, when it expires. */
function describe(session: UploadSession, parts: readonly ReceivedPart[], abandonHours: number, request: HttpRequest) {
  const { count, lengthOf } = partLayout(session.size, session.partBytes);
  const held = new Set(parts.map((part) => part.partNumber));
  const missing: number[] = [];
  for (let n = 1; n <= count; n += 1) if (!held.has(n)) missing.push(n);
  const url = new URL(sessionPath(session), request.url).href;
  return {
    id: session.id,
    state: session.state.toUpperCase(),
    fileName: session.fileName,
    size: session.size,
    sha256: session.sha256?.toString('hex') ?? null,
    partBytes: session.partBytes,
    partCount: count,
    lastPartBytes: lengthOf(count),
    status: session.status,
    ...(session.uploadId ? acceptedBody(session.uploadId, request) : {}),
    ...(session.failure ? { failure: session.failure } : {}),
    receivedBytes: parts.reduce((sum, part) => sum + part.bytes, 0),
    parts: parts.map((part) => ({ number: part.partNumber, bytes: part.bytes, sha256: part.sha256.toString('base64') })),
    missingParts: missing,
    createdAt: session.createdAt.toISOString(),
    expiresAt: new Date(session.lastActivity.getTime() + abandonHours * HOUR_MS).toISOString(),
    url,
    partUrlTemplate: `${url}/parts/{number}`,
    commitUrl: `${url}/commit`,
  };
}

/** The upload a committed session became, as the single PUT and the upload status name it. */
function acceptedBody(uploadId: string, request: HttpRequest) {
  return { uploadId, instanceId: instanceIdOf(uploadId), statusUrl: new URL(`/api/uploads/${uploadId}`, request.url).href };
}

function partsMissing(missing: readonly number[], count: number): Refusal {
  const response = problem(409, 'Parts missing', `${missing.length} of ${count} parts have not arrived yet: send them, then commit`);
  return new Refusal({ ...response, jsonBody: { ...(response.jsonBody as object), missingParts: missing.slice(0, 1000) } });
}

/** Deletes what a session staged once its outcome is recorded; the uploads container's lifecycle rule is the backstop. */
export async function discardStaged(deps: Pick<UploadSessionDeps, 'staged'>, session: UploadSession, context: Pick<InvocationContext, 'warn'>): Promise<void> {
  await deps.staged.discard(session.state, session.id).catch((error: unknown) => {
    context.warn(`staged parts not deleted: session=${session.id} error="${(error as Error).message}"`);
  });
}

/**
 * The single PUT's commit, inside its request: its one part was hashed as it arrived, so nothing is read back, and
 * a copy of at most UPLOAD_PART_BYTES takes seconds. Answers 202 with the ids the BlobCreated event will start.
 */
async function commitInline(deps: UploadSessionDeps, session: UploadSession, request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const pool = await deps.db();
  if (!(await beginVerify(pool, session.id))) throw new Refusal(sessionNotFound());
  const outcome = await verifyAndPublish(deps, session, await receivedParts(pool, session.id), context);
  if ('failure' in outcome) throw new Refusal(problem(400, outcome.failure.title, outcome.failure.detail));
  await endSession(pool, session.id);
  await discardStaged(deps, session, context);
  const accepted = acceptedBody(outcome.uploadId, request);
  return json(uploadAccepted, accepted, 202, { location: accepted.statusUrl });
}

/** The durable instance that verifies and stores one session (its id, so a second start finds the first). */
export function sessionCommitInstanceId(sessionId: string): string {
  return `upload-session-${sessionId}`;
}

/**
 * Starts the session's commit orchestration unless it runs already. The work (reading a file of up to 4 GiB back
 * for its SHA-256, then the copy) happens in its activity, where no HTTP timeout applies.
 */
async function startCommit(client: DurableClient, session: UploadSession): Promise<void> {
  const instanceId = sessionCommitInstanceId(session.id);
  const running = async () => {
    try {
      const status = await client.getStatus(instanceId, { showInput: false });
      return status.runtimeStatus === df.OrchestrationRuntimeStatus.Running || status.runtimeStatus === df.OrchestrationRuntimeStatus.Pending;
    } catch (error) {
      // durable-functions 3.x reports an unknown instance by throwing on the extension's 404.
      if (/HTTP 404/.test((error as Error).message)) return false;
      throw error;
    }
  };
  if (await running()) return;
  const input: SessionRef = { sessionId: session.id, state: session.state };
  try {
    await client.startNew(functionNames.uploadSessionCommitOrchestrator, { instanceId, input });
  } catch (error) {
    // A second commit request started it meanwhile: that is success too.
    if (!(await running())) throw error;
  }
}

/** Streams one part into its staged block and records it when its length and digest check out. */
async function receivePart(
  deps: UploadSessionDeps,
  session: UploadSession,
  partNumber: number,
  request: HttpRequest,
  digest: Buffer | undefined,
  context: InvocationContext,
): Promise<ReceivedPart> {
  const length = declaredLength(request);
  const expected = partLayout(session.size, session.partBytes).lengthOf(partNumber);
  if (length !== expected) {
    throw new Refusal(problem(400, 'Wrong part length', `part ${partNumber} is ${expected} bytes (partBytes ${session.partBytes}, file size ${session.size}); this request declares ${length}`));
  }
  if (!request.body) throw new Refusal(problem(400, 'Empty part', `part ${partNumber} has no body`));
  let staged;
  try {
    staged = await deps.staged.stagePart({ state: session.state, sessionId: session.id, partNumber, body: request.body, length });
  } catch (error) {
    if (!(error instanceof IncompleteBodyError)) throw error;
    // Storage keeps no block of a cut request: nothing to delete, the client re-sends the part.
    context.warn(`part not stored: session=${session.id} part=${partNumber} reason="${error.message}"`);
    throw new Refusal(problem(400, 'Incomplete body', error.message));
  }
  if (digest && !staged.sha256.equals(digest)) {
    // Its block is never committed: the commit lists recorded blocks only, and the staging blob goes afterwards.
    context.warn(`part refused: session=${session.id} part=${partNumber} reason="sha-256 mismatch"`);
    throw new Refusal(problem(400, 'Checksum mismatch', `part ${partNumber} does not have the SHA-256 its Content-Digest declares: send it again`));
  }
  return { partNumber, ...staged };
}

/** What the edge hands a handler of this API (httpRoutes.ts): the request, its caller and the decoded state. */
export interface SessionCall {
  readonly request: HttpRequest;
  readonly caller: Principal;
  readonly params: { readonly state: string; readonly sessionId?: string; readonly partNumber?: string };
  readonly context: InvocationContext;
  /** The commit route's durable client (it starts the verification). */
  readonly client?: DurableClient;
}

/** The resumable upload: create, list, read, send parts, commit, abort. Every route is `stateUpload` in httpRoutes. */
export function createUploadSessionApi(deps: UploadSessionDeps) {
  const sessionOf = async ({ params }: SessionCall) => {
    const session = await findSession(await deps.db(), params.state, params.sessionId ?? '');
    if (!session) throw new Refusal(sessionNotFound());
    return session;
  };

  return {
    /** POST /api/states/{state}/upload-sessions `{ fileName, size, sha256? }` → 201 with the session. */
    create: answering(async ({ request, caller, params, context, body }: SessionCall & { body: z.output<typeof uploadSessionRequest> }) => {
      const { fileName, size } = body;
      const { maxBytes, partBytes, abandonHours } = deps.limits();
      if (size > maxBytes) throw new Refusal(problem(413, 'File too large', `the largest file accepted is ${maxBytes} bytes; this one is ${size}`));
      const sha256 = body.sha256 ? Buffer.from(body.sha256, 'hex') : undefined;
      const opened = await openSession(await deps.db(), { state: params.state, fileName, size, partBytes, ...(sha256 ? { sha256 } : {}) });
      if ('existing' in opened) throw inProgress(opened.existing, request);
      const { session } = opened;
      context.log(`upload session opened: session=${session.id} client=${caller.clientId} state=${session.state} bytes=${session.size}`);
      const described = describe(session, [], abandonHours, request);
      return json(uploadSession, described, 201, { location: described.url });
    }),

    /**
     * GET /api/states/{state}/upload-sessions: the state's uploads in progress (a client that lost its own finds it
     * by name, size and hash), and the limits a client plans with: files up to `partBytes` go in one PUT.
     */
    list: answering(async ({ request, params }: SessionCall) => {
      const pool = await deps.db();
      const sessions = await listSessions(pool, params.state);
      const { abandonHours, partBytes, maxBytes } = deps.limits();
      const described = await Promise.all(sessions.filter((s) => !s.single).map(async (s) => describe(s, await receivedParts(pool, s.id), abandonHours, request)));
      return json(uploadSessionList, { partBytes, maxBytes, abandonHours, sessions: described });
    }),

    /** GET …/upload-sessions/{sessionId}: where to resume; DELETE: abort (the staged parts are deleted) → 204. */
    session: answering(async (call: SessionCall) => {
      const session = await sessionOf(call);
      if (call.request.method !== 'DELETE') return json(uploadSession, describe(session, await receivedParts(await deps.db(), session.id), deps.limits().abandonHours, call.request));
      if (session.status === 'verifying') throw new Refusal(problem(409, 'Commit in progress', 'this upload is being committed and can no longer be aborted'));
      // A finished session only goes from the list; its file (if committed) stays.
      await endSession(await deps.db(), session.id);
      await deps.staged.discard(session.state, session.id);
      call.context.log(`upload session aborted: session=${session.id} state=${session.state}`);
      return { status: 204, headers: { 'cache-control': 'no-store' } };
    }),

    /** PUT …/upload-sessions/{sessionId}/parts/{partNumber} with `Content-Digest: sha-256=:…:` → 200. */
    part: answering(async (call: SessionCall) => {
      const { request, context } = call;
      const session = await sessionOf(call);
      const count = partLayout(session.size, session.partBytes).count;
      const raw = call.params.partNumber ?? '';
      const partNumber = Number(raw);
      if (!/^\d{1,6}$/.test(raw) || partNumber < 1 || partNumber > count) {
        throw new Refusal(problem(400, 'Bad part number', `parts are numbered 1 to ${count}`));
      }
      const digest = contentDigest(request);
      if (!digest) throw new Refusal(problem(400, 'Content-Digest required', 'send each part with Content-Digest: sha-256=:<base64 of its SHA-256>: (RFC 9530)'));
      if (session.status !== 'open') {
        throw new Refusal(problem(409, session.status === 'verifying' ? 'Commit in progress' : 'Upload session ended', `this upload is ${session.status}; it takes no more parts`));
      }
      const part = await receivePart(deps, session, partNumber, request, digest, context);
      if (!(await recordPart(await deps.db(), session.id, part))) {
        // Ended while the part streamed in: what it staged must not stay behind. Not while a commit verifies the
        // staging blob, though: the commit deletes it (this stray block with it) once the file is stored.
        const now = await findSession(await deps.db(), session.state, session.id);
        if (now?.status !== 'verifying') await deps.staged.discard(session.state, session.id);
        throw new Refusal(problem(409, 'Upload session ended', 'the session was committed, aborted or expired while this part arrived'));
      }
      return json(partReceived, { number: partNumber, bytes: part.bytes, sha256: part.sha256.toString('base64') });
    }),

    /**
     * POST …/upload-sessions/{sessionId}/commit → 202 with the session (`verifying`) and its URL in Location: the
     * client reads it until it is `committed` (with `uploadId` and `statusUrl`) or `failed`. Asking again is harmless.
     */
    commit: answering(async (call: SessionCall) => {
      const pool = await deps.db();
      let session = await sessionOf(call);
      if (session.status === 'failed') throw new Refusal(problem(409, session.failure?.title ?? 'Upload refused', session.failure?.detail ?? 'this upload was refused at commit'));
      if (session.status === 'open') {
        const parts = await receivedParts(pool, session.id);
        const missing = missingParts(session, parts);
        if (missing.length > 0) throw partsMissing(missing, partLayout(session.size, session.partBytes).count);
        await beginVerify(pool, session.id);
        session = await sessionOf(call);
      }
      if (session.status === 'verifying') {
        if (!call.client) throw new Error('the commit route needs its durable client');
        await startCommit(call.client, session);
        call.context.log(`upload session committing: session=${session.id} state=${session.state.toUpperCase()} bytes=${session.size}`);
      }
      const described = describe(session, await receivedParts(pool, session.id), deps.limits().abandonHours, call.request);
      return json(uploadSession, described, session.status === 'committed' ? 200 : 202, { location: described.url, ...(session.status === 'verifying' ? { 'retry-after': '2' } : {}) });
    }),
  };
}

/**
 * The single PUT: a session of one part that lives as long as its request. Its bytes are staged like a part, so a
 * cut or refused upload deletes them at once; and a second PUT of the same name while one runs gets 409.
 */
export async function singlePut(
  deps: UploadSessionDeps,
  input: { state: string; fileName: string; length: number; digest?: Buffer },
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const pool = await deps.db();
  let opened = await openSession(pool, { state: input.state, fileName: input.fileName, size: input.length, partBytes: input.length, single: true });
  if ('existing' in opened && opened.existing.status === 'open') {
    // A single PUT whose instance died long ago does not hold the name for the rest of the day.
    for (const stale of await expireSessions(pool, deps.limits().abandonHours * HOUR_MS, opened.existing.id)) await deps.staged.discard(stale.state, stale.id);
    opened = await openSession(pool, { state: input.state, fileName: input.fileName, size: input.length, partBytes: input.length, single: true });
  }
  if ('existing' in opened) throw inProgress(opened.existing, request);
  const { session } = opened;
  try {
    const part = await receivePart(deps, session, 1, request, input.digest, context);
    if (!(await recordPart(pool, session.id, part))) throw new Refusal(sessionNotFound());
    return await commitInline(deps, session, request, context);
  } catch (error) {
    // Whatever went wrong, nothing of this request may stay staged: its bytes are personal data.
    await endSession(pool, session.id).catch(() => {});
    await deps.staged.discard(session.state, session.id).catch((discardError: unknown) => {
      context.warn(`staged bytes not deleted: session=${session.id} error="${(discardError as Error).message}"`);
    });
    throw error;
  }
}

/**
 * Housekeeping: ends the sessions idle past UPLOAD_ABANDON_HOURS (single PUTs whose instance died, after minutes)
 * and deletes what they staged (personal data). A deletion that fails is logged; the uploads container's lifecycle
 * rule is the backstop for it. Returns how many ended.
 */
export async function expireAbandonedSessions(deps: UploadSessionDeps, context: Pick<InvocationContext, 'warn'>): Promise<number> {
  const expired = await expireSessions(await deps.db(), deps.limits().abandonHours * HOUR_MS);
  for (const session of expired) {
    await deps.staged.discard(session.state, session.id).catch((error: unknown) => {
      context.warn(`housekeeping: staged parts of session ${session.id} not deleted (${(error as Error).message})`);
    });
  }
  return expired.length;
}
