import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ContainerClient } from '@azure/storage-blob';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import { triggerContracts } from '../functionNames.js';
import { instanceIdOf, uploadIdOf, UPLOAD_BLOCK_BYTES, UPLOAD_BLOCKS_IN_FLIGHT, type Jurisdiction } from '../engine/index.js';
import { problem } from './httpEncoders.js';

/** A file name the blob path, logs and the dashboard can carry as is: no path, no spaces, no control characters. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,195}\.csv$/i;

/**
 * PUT /api/states/{state}/uploads/{filename}: streams the body into `uploads/{state}/{filename}` (block by block,
 * never whole in memory) and answers 202 with the ids the blob's BlobCreated event will start: this API is a front
 * door to blob storage, the event stays the only way an upload starts. The block list is committed only when
 * exactly Content-Length bytes arrived, so a cut connection leaves no blob and starts nothing.
 */
export function uploadFile({ settings, uploadStorage }: Pick<AppClients, 'settings' | 'uploadStorage'>) {
  const uploads = (): ContainerClient => uploadStorage().getContainerClient(triggerContracts.blobCreatedStarter.uploadsContainer);
  return async (call: { request: HttpRequest; caller: Principal; params: { state: Jurisdiction; filename: string }; context: InvocationContext }): Promise<HttpResponseInit> => {
    const { request, caller, context } = call;
    const state = call.params.state.toLowerCase();
    const filename = call.params.filename;
    if (!SAFE_NAME.test(filename) || filename.includes('..')) {
      return problem(400, 'Bad file name', 'the file name must end in .csv and use only letters, digits, ".", "_" and "-" (at most 200 characters)');
    }
    const declared = request.headers.get('content-length');
    if (declared === null) return problem(411, 'Length required', 'send the file with a Content-Length header (chunked uploads are not accepted)');
    const length = Number(declared);
    if (!/^\d+$/.test(declared) || !Number.isSafeInteger(length)) return problem(400, 'Bad request', 'Content-Length must be a byte count');
    if (length === 0 || !request.body) return problem(400, 'Empty file', 'the file is empty: send the CSV with its header row');
    const maxBytes = settings().uploadMaxBytes;
    if (length > maxBytes) return problem(413, 'File too large', `the largest file accepted is ${maxBytes} bytes; this one declares ${length}`);

    const blobName = `${state}/${filename}`;
    const received = Readable.fromWeb(request.body as WebReadableStream<Uint8Array>);
    const body = received.pipe(exactly(length));
    // pipe() does not pass errors on: a cut connection must fail the upload, not leave it waiting.
    received.once('error', () => body.destroy(new IncompleteBodyError('the connection closed before the whole body arrived')));
    let etag: string;
    try {
      const result = await uploads().getBlockBlobClient(blobName).uploadStream(body, UPLOAD_BLOCK_BYTES, UPLOAD_BLOCKS_IN_FLIGHT, {
        blobHTTPHeaders: { blobContentType: 'text/csv' },
      });
      etag = result.etag!;
    } catch (error) {
      if (error instanceof IncompleteBodyError) {
        context.warn(`upload not stored: client=${caller.clientId} state=${state.toUpperCase()} reason="${error.message}"`);
        return problem(400, 'Incomplete body', error.message);
      }
      throw error;
    }
    // The ids the blob's BlobCreated event will start, from the one identity module.
    const uploadId = uploadIdOf({ state, container: uploads().containerName, blobName, etag });
    const instanceId = instanceIdOf(uploadId);
    const statusUrl = new URL(`/api/uploads/${uploadId}`, request.url).href;
    context.log(`upload stored: client=${caller.clientId} state=${state.toUpperCase()} upload=${uploadId} bytes=${length}`);
    return { status: 202, headers: { location: statusUrl, 'cache-control': 'no-store' }, jsonBody: { uploadId, instanceId, statusUrl } };
  };
}

class IncompleteBodyError extends Error {}

/** Passes the body through and fails (so no block list is committed) unless exactly `length` bytes arrive. */
function exactly(length: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > length ? new IncompleteBodyError(`the body is longer than its Content-Length (${length})`) : null, chunk);
    },
    flush(done) {
      done(seen < length ? new IncompleteBodyError(`the body ended after ${seen} of ${length} bytes`) : null);
    },
  });
}
