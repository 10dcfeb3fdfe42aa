import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { Principal } from '../auth/principal.js';
import { getUpload, isFinal, listRowErrors, listStates, listStateUploads, uploadIdOfInstance, type UploadView } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import type { UploadProgressState } from '../entities/uploadProgress.js';
import { functionNames } from '../functionNames.js';
import { statusBody, type UploadStatusBody } from '../status/statusBody.js';
import { uploadNotFound } from './accessGuard.js';
import { BadRequest, intParam, parseCursor } from './httpDecoders.js';
import { json, problem } from './httpEncoders.js';

/**
 * The upload status API: one upload, its rejected rows, a state's uploads, the states. Every handler runs behind
 * the access guard (accessGuard.ts), which has already checked the caller may read the state or upload asked for.
 */
export function makeStatusApi({ db }: Pick<AppClients, 'db'>) {
  /** GET /api/uploads/{uploadId} (an upload id or instance id), or GET /api/uploads?blob=uploads/ca/file.csv */
  async function uploadStatus(request: HttpRequest, _caller: Principal, client: DurableClient): Promise<HttpResponseInit> {
    const id = request.params.uploadId ?? request.query.get('blob');
    if (!id) return problem(400, 'Bad request', 'give an upload id in the path or a blob name as ?blob=container/name.csv');
    const view = await getUpload(await db(), request.params.uploadId ? uploadIdOfInstance(id) : id);
    if (!view) return uploadNotFound();
    return json(statusBody(view, await liveProgress(client, view.uploadId), new Date()));
  }

  /** GET /api/uploads/{uploadId}/errors?limit=&after= : rejected rows (line, column, code, message; never values). */
  async function uploadErrors(request: HttpRequest, _caller: Principal): Promise<HttpResponseInit> {
    try {
      const limit = intParam(request.query.get('limit'), 'limit', 1, 1000, 100);
      const after = parseCursor(request.query.get('after'));
      const pool = await db();
      const view = await getUpload(pool, uploadIdOfInstance(request.params.uploadId ?? ''));
      if (!view) return uploadNotFound();
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

  /** GET /api/states/{state}/uploads?limit= : newest first, the active one marked (the guard checked the state). */
  async function stateUploads(request: HttpRequest, _caller: Principal, client: DurableClient, _context: InvocationContext): Promise<HttpResponseInit> {
    try {
      const state = request.params.state ?? '';
      const limit = intParam(request.query.get('limit'), 'limit', 1, 100, 20);
      const uploads = await withLiveProgress(client, await listStateUploads(await db(), state, limit));
      return json({ state: state.toUpperCase(), activeUploadId: uploads.find((u) => u.isActive)?.uploadId ?? null, uploads });
    } catch (error) {
      if (error instanceof BadRequest) return problem(400, 'Bad request', error.message);
      throw error;
    }
  }

  /**
   * GET /api/states?uploads= : the states the caller may read (an operator: every state with uploads, newest
   * registration first; a state role: its own states, also before their first upload), each with its active upload
   * and, with `uploads=N`, its N newest uploads (the dashboard's overview in one request).
   */
  async function stateSummaries(request: HttpRequest, caller: Principal, client: DurableClient): Promise<HttpResponseInit> {
    try {
      const perState = intParam(request.query.get('uploads'), 'uploads', 0, 20, 0);
      const pool = await db();
      const states = await listStates(pool, caller.operator ? {} : { only: caller.states });
      if (perState === 0) return json({ states });
      const withUploads = await Promise.all(states.map(async (summary) => ({
        ...summary,
        recentUploads: summary.uploads === 0 ? [] : await withLiveProgress(client, await listStateUploads(pool, summary.state, perState)),
      })));
      return json({ states: withUploads });
    } catch (error) {
      if (error instanceof BadRequest) return problem(400, 'Bad request', error.message);
      throw error;
    }
  }

  return { uploadStatus, uploadErrors, stateUploads, stateSummaries };
}

/** Status bodies; uploads still running get their live progress from the progress entity. */
async function withLiveProgress(client: DurableClient, views: UploadView[]): Promise<UploadStatusBody[]> {
  const now = new Date();
  return Promise.all(views.map(async (view) => statusBody(view, isFinal(view.status) ? undefined : await liveProgress(client, view.uploadId), now)));
}

/** The upload's progress entity, while it exists. */
async function liveProgress(client: DurableClient, uploadId: string): Promise<UploadProgressState | undefined> {
  const live = await client.readEntityState<UploadProgressState>(new df.EntityId(functionNames.uploadProgress, uploadId));
  return live.entityExists ? live.entityState : undefined;
}
