import type { HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { Principal } from '../auth/principal.js';
import {
  getUpload, isFinal, listRowErrors, listStates, listStateUploads, type Jurisdiction, type RowErrorCursor, type UploadRef, type UploadView,
} from '../engine/index.js';
import type { AppClients } from '../composition.js';
import type { UploadProgressState } from '../entities/uploadProgress.js';
import { functionNames } from '../functionNames.js';
import { statusBody, uploadStatusBody, type UploadStatusBody } from '../status/statusBody.js';
import { json, problem, uploadNotFound } from './httpEncoders.js';
import { rowErrorPage, stateSummaryList, stateUploadList } from './uploadBodies.js';

/**
 * The upload status API: one upload, its rejected rows, a state's uploads, the states. Every handler runs behind
 * the edge (accessGuard.ts), which has decoded the request and checked the caller may read the state or upload.
 */

/** GET /api/uploads/{uploadId} (an upload id or instance id), or GET /api/uploads?blob=ca/file.csv */
export function uploadStatus({ db }: Pick<AppClients, 'db'>) {
  return async ({ params, query, client, caller }: { params: { uploadId?: UploadRef }; query: { blob?: UploadRef }; client: DurableClient; caller: Principal }): Promise<HttpResponseInit> => {
    const ref = params.uploadId ?? query.blob;
    if (!ref) return problem(400, 'Bad request', 'give an upload id in the path or a blob name as ?blob=ca/file.csv');
    const view = await getUpload(await db(), ref);
    if (!view) return uploadNotFound();
    return json(uploadStatusBody, statusBody(view, await liveProgress(client, view.uploadId), new Date(), caller.operator));
  };
}

/** GET /api/uploads/{uploadId}/errors?limit=&after= : rejected rows (line, column, code, message; never values). */
export function uploadErrors({ db }: Pick<AppClients, 'db'>) {
  return async ({ params, query }: { params: { uploadId: UploadRef }; query: { limit: number; after?: RowErrorCursor } }): Promise<HttpResponseInit> => {
    const pool = await db();
    const view = await getUpload(pool, params.uploadId);
    if (!view) return uploadNotFound();
    const page = await listRowErrors(pool, view.uploadId, { limit: query.limit, ...(query.after ? { after: query.after } : {}) });
    return json(rowErrorPage, {
      uploadId: view.uploadId,
      rowsRejected: view.rowsRejected,
      errorCounts: view.errorCounts,
      errors: page.errors,
      next: page.next ? `${page.next.line}:${page.next.column ?? ''}` : null,
    });
  };
}

/** GET /api/states/{state}/uploads?limit= : newest first, the active one marked. */
export function stateUploads({ db }: Pick<AppClients, 'db'>) {
  return async ({ params: { state }, query, client, caller }: { params: { state: Jurisdiction }; query: { limit: number }; client: DurableClient; caller: Principal }): Promise<HttpResponseInit> => {
    const uploads = await withLiveProgress(client, await listStateUploads(await db(), state, query.limit), caller);
    return json(stateUploadList, { state, activeUploadId: uploads.find((u) => u.isActive)?.uploadId ?? null, uploads });
  };
}

/**
 * GET /api/states?uploads= : the states the caller may read (an operator: every state with uploads, newest
 * registration first; a state role: its own states, also before their first upload), each with its active upload
 * and, with `uploads=N`, its N newest uploads (the dashboard's overview in one request).
 */
export function stateSummaries({ db }: Pick<AppClients, 'db'>) {
  return async ({ caller, query, client }: { caller: Principal; query: { uploads: number }; client: DurableClient }): Promise<HttpResponseInit> => {
    const pool = await db();
    const states = await listStates(pool, caller.operator ? {} : { only: caller.states });
    if (query.uploads === 0) return json(stateSummaryList, { states });
    const withUploads = await Promise.all(states.map(async (summary) => ({
      ...summary,
      recentUploads: summary.uploads === 0 ? [] : await withLiveProgress(client, await listStateUploads(pool, summary.state, query.uploads), caller),
    })));
    return json(stateSummaryList, { states: withUploads });
  };
}

/** Status bodies; uploads still running get their live progress from the progress entity. */
async function withLiveProgress(client: DurableClient, views: UploadView[], caller: Principal): Promise<UploadStatusBody[]> {
  const now = new Date();
  return Promise.all(views.map(async (view) => statusBody(view, isFinal(view.status) ? undefined : await liveProgress(client, view.uploadId), now, caller.operator)));
}

/** The upload's progress entity, while it exists. */
async function liveProgress(client: DurableClient, uploadId: string): Promise<UploadProgressState | undefined> {
  const live = await client.readEntityState<UploadProgressState>(new df.EntityId(functionNames.uploadProgress, uploadId));
  return live.entityExists ? live.entityState : undefined;
}
