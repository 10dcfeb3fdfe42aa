import { createHash, randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { BlobBeginCopyFromUrlPollState, BlockBlobClient, ContainerClient } from '@azure/storage-blob';

/**
 * The bytes of an upload while it arrives: each part is one block of the session's own staging blob,
 * `staging/{state}/{session}` in the uploads container. The name has no `.csv` suffix, so neither the BlobCreated
 * subscription nor the starter ever sees it, and the uploads container's lifecycle rule is its backstop. Only when
 * every part arrived and checked out is the staging blob committed and copied, in one server-side copy, to
 * `{state}/{file}.csv`: the BlobCreated event, and ingestion, only ever see whole files. Staging under a name of its
 * own (not under the file's name) lets a failed or abandoned upload delete its bytes without touching an earlier
 * file of that name or another upload's blocks.
 */
export interface StagedUploads {
  /** Streams `length` bytes into a block of the session's staging blob; the part is not recorded here. */
  stagePart(input: { state: string; sessionId: string; partNumber: number; body: ReadableStream<Uint8Array>; length: number }): Promise<StagedPart>;
  /** Commits the staging blob from these blocks, in order (again with the same blocks is harmless: a retried commit). */
  assemble(state: string, sessionId: string, blockIds: readonly string[]): Promise<void>;
  /** The SHA-256 of the assembled staging blob, read back as one stream. */
  digest(state: string, sessionId: string): Promise<Buffer>;
  /**
   * Copies the assembled staging blob to `{state}/{fileName}` (one BlobCreated event) and returns its eTag once the
   * copy has completed. A retry finds the copy this session started and waits for it instead of copying again.
   */
  publish(state: string, sessionId: string, fileName: string, options?: { timeoutMs?: number }): Promise<string>;
  /** Deletes everything staged for the session, committed or not. */
  discard(state: string, sessionId: string): Promise<void>;
}

export interface StagedPart {
  readonly blockId: string;
  readonly bytes: number;
  readonly sha256: Buffer;
}

/** The body ended early, ran long, or the connection was cut: nothing usable was staged. */
export class IncompleteBodyError extends Error {}

export function stagingBlobName(state: string, sessionId: string): string {
  return `staging/${state.toLowerCase()}/${sessionId}`;
}

/** Block ids of one blob must all have the same length: part number, then a nonce per attempt. */
function blockIdOf(partNumber: number): string {
  return Buffer.from(`${String(partNumber).padStart(6, '0')}-${randomBytes(8).toString('hex')}`).toString('base64');
}

/** How long a server-side copy may take before the attempt gives up (the activity is retried; below functionTimeout). */
const COPY_TIMEOUT_MS = 8 * 60_000;
const COPY_POLL_MS = 1_000;
/** Metadata on the copied file naming the session that copied it: how a retried commit recognises its own copy. */
const SESSION_KEY = 'uploadsession';

export function createStagedUploads(uploads: () => ContainerClient): StagedUploads {
  const staging = (state: string, sessionId: string): BlockBlobClient => uploads().getBlockBlobClient(stagingBlobName(state, sessionId));
  return {
    async stagePart({ state, sessionId, partNumber, body, length }) {
      // A nonce per attempt: a re-send (even one racing the first) never overwrites a block another request staged
      // and checked; only the block recorded last is committed.
      const blockId = blockIdOf(partNumber);
      const hash = createHash('sha256');
      const received = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
      const counted = received.pipe(exactly(length, hash));
      // pipe() does not pass errors on: a cut connection must fail the part, not leave storage waiting for bytes.
      received.once('error', () => counted.destroy(new IncompleteBodyError('the connection closed before the whole part arrived')));
      received.once('close', () => {
        if (!received.readableEnded) counted.destroy(new IncompleteBodyError('the connection closed before the whole part arrived'));
      });
      let bodyError: Error | undefined;
      // The storage client pipes the body into its request, and a failing pipe source does not end that request:
      // it is aborted here, or it would wait for the missing bytes for as long as storage lets it.
      const abort = new AbortController();
      counted.once('error', (error) => {
        bodyError = error;
        abort.abort(error);
      });
      try {
        // One streamed request per part: the part is never held whole in memory.
        await staging(state, sessionId).stageBlock(blockId, () => counted, length, { abortSignal: abort.signal });
      } catch (error) {
        throw bodyError instanceof IncompleteBodyError ? bodyError : error;
      }
      if (bodyError) throw bodyError;
      return { blockId, bytes: length, sha256: hash.digest() };
    },

    async assemble(state, sessionId, blockIds) {
      await staging(state, sessionId).commitBlockList([...blockIds], { blobHTTPHeaders: { blobContentType: 'text/csv' } });
    },

    async digest(state, sessionId) {
      // Node's hashes cannot be saved between requests, and parts arrive in any order on any instance: the whole
      // file's digest is computed once, reading the assembled blob as a stream (a dropped read resumes where it was).
      const hash = createHash('sha256');
      const download = await staging(state, sessionId).download(0, undefined, { maxRetryRequests: 5 });
      await pipeline(download.readableStreamBody!, hash);
      return hash.read() as Buffer;
    },

    async publish(state, sessionId, fileName, { timeoutMs = COPY_TIMEOUT_MS } = {}) {
      const target = uploads().getBlockBlobClient(`${state.toLowerCase()}/${fileName}`);
      const deadline = Date.now() + timeoutMs;
      // Copy Blob within one account: the source is authorised by this request's own credential (Shared Key locally,
      // the app's managed identity on Azure, which needs read and write on the container). It may complete at once
      // or stay pending: it is awaited by its copy id until it succeeds, fails or is aborted.
      const earlier = await target.getProperties().catch((error: { statusCode?: number }) => {
        if (error.statusCode === 404) return undefined;
        throw error;
      });
      const ours = earlier?.metadata?.[SESSION_KEY] === sessionId;
      if (ours && earlier!.copyStatus === 'success') return earlier!.etag!;
      let copyId = ours && earlier!.copyStatus === 'pending' ? earlier!.copyId : undefined;
      if (copyId === undefined) {
        // The poller's first step starts the copy; its polling is not used (it would wait on for an aborted copy).
        const started = await target.beginCopyFromURL(staging(state, sessionId).url, { metadata: { [SESSION_KEY]: sessionId } });
        copyId = (started.getOperationState() as BlobBeginCopyFromUrlPollState).copyId!;
      }
      for (;;) {
        const copied = await target.getProperties();
        if (copied.copyId !== copyId) throw new Error(`another copy (${copied.copyId ?? 'none'}) replaced copy ${copyId} of session ${sessionId}`);
        if (copied.copyStatus === 'success') return copied.etag!;
        if (copied.copyStatus !== 'pending') throw new Error(`copy ${copyId} ended ${copied.copyStatus ?? 'without a status'}: ${copied.copyStatusDescription ?? ''}`);
        if (Date.now() > deadline) throw new Error(`copy ${copyId} still pending after ${timeoutMs} ms (${copied.copyProgress ?? '?'} bytes)`);
        await sleep(COPY_POLL_MS);
      }
    },

    async discard(state, sessionId) {
      const blob = staging(state, sessionId);
      // Uncommitted blocks cannot be deleted on their own: committing an empty list discards them (the staging name
      // raises no ingestion), then the blob goes.
      await blob.commitBlockList([]);
      await blob.deleteIfExists();
    },
  };
}

/** Passes the body through, hashing it, and fails unless exactly `length` bytes arrive. */
function exactly(length: number, hash: ReturnType<typeof createHash>): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > length) return done(new IncompleteBodyError(`the body is longer than its Content-Length (${length})`));
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      done(seen < length ? new IncompleteBodyError(`the body ended after ${seen} of ${length} bytes`) : null);
    },
  });
}
