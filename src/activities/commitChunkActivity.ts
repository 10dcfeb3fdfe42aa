import { CommitSlotsBusyError, commitChunk, isTransient } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import { BUSY, type CommitInput, type CommitResult } from '../ingestContracts.js';
import { blobOf, type Queued } from './queuedInput.js';

/**
 * Commits one chunk; idempotent, so a retried or duplicated activity returns the recorded counts.
 * Returns a result object instead of throwing, so the orchestrator can retry only transient faults.
 */
export function makeCommitChunkActivity({ db, settings, uploadByteSource }: Pick<AppClients, 'db' | 'settings' | 'uploadByteSource'>) {
  return async function commitChunkActivity(input: Queued<CommitInput>): Promise<CommitResult> {
    try {
      const { maxErrorRows, maxConcurrentCommits } = settings().ingest;
      const result = await commitChunk(await db(), input, uploadByteSource(await blobOf(input, db)), {
        maxErrorRows,
        commitSlots: maxConcurrentCommits,
      });
      return { ok: true, chunkNo: input.chunkNo, rowsCommitted: result.rowsCommitted, rowsRejected: result.rowsRejected };
    } catch (error) {
      const { name, message } = error as Error;
      if (error instanceof CommitSlotsBusyError) return { ok: false, chunkNo: input.chunkNo, transient: true, code: BUSY, message };
      return { ok: false, chunkNo: input.chunkNo, transient: isTransient(error), code: name, message };
    }
  };
}
