import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Principal } from '../auth/principal.js';
import type { AppClients } from '../composition.js';
import type { Jurisdiction } from '../engine/index.js';
import { problem } from './httpEncoders.js';
import { answering, checkFileName, contentDigest, declaredLength, singlePut, uploadSessionDeps } from './uploadSessions.js';

/**
 * PUT /api/states/{state}/uploads/{filename}: a file up to the part size in one request. The body streams into a
 * staged block (never whole in memory) and is committed as `uploads/{state}/{filename}` only when exactly
 * Content-Length bytes arrived (and match `Content-Digest`, when sent); a cut or refused upload deletes what it
 * staged. Answers 202 with the ids the blob's BlobCreated event will start: the event stays the only way an upload
 * starts. Larger files go through the resumable upload (uploadSessions.ts), which the 413 names.
 */
export function uploadFile(clients: Pick<AppClients, 'settings' | 'uploadStorage' | 'db'>) {
  const deps = uploadSessionDeps(clients);
  return answering(async (call: { request: HttpRequest; caller: Principal; params: { state: Jurisdiction; filename: string }; context: InvocationContext }): Promise<HttpResponseInit> => {
    const { request, caller, context, params } = call;
    const fileName = checkFileName(params.filename);
    const length = declaredLength(request);
    if (length === 0 || !request.body) return problem(400, 'Empty file', 'the file is empty: send the CSV with its header row');
    const { partBytes } = deps.limits();
    if (length > partBytes) {
      return problem(
        413,
        'File too large for one request',
        `one PUT takes files up to ${partBytes} bytes; this one declares ${length}. Upload it in parts: ` +
          `POST /api/states/${params.state}/upload-sessions with {"fileName","size","sha256"}, then PUT each part and commit (README: resumable uploads)`,
      );
    }
    const digest = contentDigest(request);
    const response = await singlePut(deps, { state: params.state, fileName, length, ...(digest ? { digest } : {}) }, request, context);
    context.log(`upload accepted: client=${caller.clientId} state=${params.state} bytes=${length}`);
    return response;
  });
}
