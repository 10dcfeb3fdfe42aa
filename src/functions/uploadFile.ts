import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import { problem } from './httpEncoders.js';
import { answering, checkFileName, contentDigest, declaredLength, singlePut, uploadSessionDeps, type UploadSessionDeps } from './uploadSessions.js';

/** The upload API with the app's uploads container and limits. */
export function makeUploadFile(clients: Pick<AppClients, 'settings' | 'uploadStorage' | 'db'>) {
  return createUploadFile(uploadSessionDeps(clients));
}

/**
 * PUT /api/states/{state}/uploads/{filename}: a file up to the part size in one request. The body streams into a
 * staged block (never whole in memory) and is committed as `uploads/{state}/{filename}` only when exactly
 * Content-Length bytes arrived (and match `Content-Digest`, when sent); a cut or refused upload deletes what it
 * staged. Answers 202 with the ids the blob's BlobCreated event will start: the event stays the only way an upload
 * starts. Larger files go through the resumable upload (uploadSessions.ts), which the 413 names.
 */
export function createUploadFile(deps: UploadSessionDeps) {
  return answering(async (request: HttpRequest, principal: Principal, context: InvocationContext): Promise<HttpResponseInit> => {
    const state = (request.params.state ?? '').toLowerCase();
    const fileName = checkFileName(request.params.filename);
    const length = declaredLength(request);
    if (length === 0 || !request.body) return problem(400, 'Empty file', 'the file is empty: send the CSV with its header row');
    const { partBytes } = deps.limits();
    if (length > partBytes) {
      return problem(
        413,
        'File too large for one request',
        `one PUT takes files up to ${partBytes} bytes; this one declares ${length}. Upload it in parts: ` +
          `POST /api/states/${state.toUpperCase()}/upload-sessions with {"fileName","size","sha256"}, then PUT each part and commit (README: resumable uploads)`,
      );
    }
    const response = await singlePut(deps, { state, fileName, length, ...optionalDigest(contentDigest(request)) }, request, context);
    context.log(`upload accepted: client=${principal.clientId} state=${state.toUpperCase()} bytes=${length}`);
    return response;
  });
}

function optionalDigest(digest: Buffer | undefined): { digest?: Buffer } {
  return digest ? { digest } : {};
}
