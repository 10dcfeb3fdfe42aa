import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getUpload, isFinal, listRowErrors, listStates, listStateUploads, uploadIdOfInstance } from '../engine/index.js';
import { db } from '../adapters/runtime.js';
import type { UploadProgressState } from '../entities/uploadProgress.js';
import { functionNames } from '../functionNames.js';
import { statusBody } from '../status/statusBody.js';
import { BadRequest, intParam, parseCursor } from './httpDecoders.js';
import { json, problem } from './httpEncoders.js';

/** GET /api/uploads/{uploadId} (an upload id or instance id), or GET /api/uploads?blob=uploads/ca/file.csv */
export async function uploadStatus(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const id = request.params.uploadId ?? request.query.get('blob');
  if (!id) return problem(400, 'Bad request', 'give an upload id in the path or a blob name as ?blob=container/name.csv');
  const view = await getUpload(await db(), request.params.uploadId ? uploadIdOfInstance(id) : id);
  if (!view) return problem(404, 'Upload not found', `no upload ${id}`);
  const live = await client.readEntityState<UploadProgressState>(new df.EntityId(functionNames.uploadProgress, view.uploadId));
  return json(statusBody(view, live.entityExists ? live.entityState : undefined, new Date()));
}

/** GET /api/uploads/{uploadId}/errors?limit=&after= : rejected rows (line, column, code, message; never values). */
export async function uploadErrors(request: HttpRequest): Promise<HttpResponseInit> {
  try {
    const limit = intParam(request.query.get('limit'), 'limit', 1, 1000, 100);
    const after = parseCursor(request.query.get('after'));
    const pool = await db();
    const view = await getUpload(pool, uploadIdOfInstance(request.params.uploadId ?? ''));
    if (!view) return problem(404, 'Upload not found', `no upload ${request.params.uploadId}`);
    const page = await listRowErrors(pool, view.uploadId, { limit, ...(after ? { after } : {}) });
    return json({
      uploadId: view.uploadId,
      rowsRejected: view.rowsRejected,
      errorCounts: view.errorCounts,
      errors: page.errors,
      next: page.next ? `${page.next.line}:${page.next.column ?? ''}` : null,
    });
  } catch (error) {
    if (error instanceof BadRequest) return problem(400, 'Bad request', error.message);
    throw error;
  }
}

/** GET /api/states/{state}/uploads?limit= : newest first, the active one marked. */
export async function stateUploads(request: HttpRequest, client: DurableClient, _context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const state = request.params.state ?? '';
    if (!/^[A-Za-z]{2}$/.test(state)) throw new BadRequest('state must be a 2-letter code');
    const limit = intParam(request.query.get('limit'), 'limit', 1, 100, 20);
    const views = await listStateUploads(await db(), state, limit);
    const now = new Date();
    const uploads = await Promise.all(
      views.map(async (view) => {
        const live = !isFinal(view.status)
          ? await client.readEntityState<UploadProgressState>(new df.EntityId(functionNames.uploadProgress, view.uploadId))
          : undefined;
        return statusBody(view, live?.entityExists ? live.entityState : undefined, now);
      }),
    );
    return json({ state: state.toUpperCase(), activeUploadId: uploads.find((u) => u.isActive)?.uploadId ?? null, uploads });
  } catch (error) {
    if (error instanceof BadRequest) return problem(400, 'Bad request', error.message);
    throw error;
  }
}

/** GET /api/states : states that have uploads, newest registration first, with their active upload. */
export async function stateSummaries(): Promise<HttpResponseInit> {
  return json({ states: await listStates(await db()) });
}
