import { failUpload, isTransient, planUpload } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import type { PlanResult, UploadFile } from '../ingestContracts.js';
import { blobOf, type Queued } from './queuedInput.js';

/**
 * Plans once (the plan is stored in PostgreSQL); the orchestrator gets counts, never rows. A bad file, or a
 * blob that is gone or changed, fails the upload with its reason; only transient faults throw (and are retried).
 */
export function makePlanUploadActivity({ db, settings, uploadByteSource }: Pick<AppClients, 'db' | 'settings' | 'uploadByteSource'>) {
  return async function planUploadActivity(input: Queued<UploadFile>): Promise<PlanResult> {
    const pool = await db();
    try {
      const outcome = await planUpload(pool, input.uploadId, uploadByteSource(await blobOf(input, db)), {
        targetChunkBytes: settings().ingest.chunkBytes,
      });
      if (!outcome.ok) return { ok: false, code: outcome.error.code, message: outcome.error.message };
      return { ok: true, chunksTotal: outcome.plan.chunks.length, rowsTotal: outcome.plan.rowsTotal };
    } catch (error) {
      if (isTransient(error)) throw error;
      const reason = { code: 'source_unavailable', message: (error as Error).message };
      await failUpload(pool, input.uploadId, reason);
      return { ok: false, ...reason };
    }
  };
}
