import { planUpload as plan } from '../engine/index.js';
import { appSettings, db } from '../adapters/runtime.js';
import type { PlanResult } from '../ingestContracts.js';
import { uploadByteSource } from './uploadBlob.js';

/** Plans once (the plan is stored in PostgreSQL); the orchestrator gets counts, never rows. */
export async function planUpload(input: { uploadId: string }): Promise<PlanResult> {
  const outcome = await plan(await db(), input.uploadId, await uploadByteSource(input.uploadId), {
    targetChunkBytes: appSettings().ingest.chunkBytes,
  });
  if (!outcome.ok) return { ok: false, code: outcome.error.code, message: outcome.error.message };
  return { ok: true, chunksTotal: outcome.plan.chunks.length, rowsTotal: outcome.plan.rowsTotal };
}
