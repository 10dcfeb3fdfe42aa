/**
 * Inputs and outputs that cross the durable boundary (they are stored in orchestration history).
 * Ids, counts and line numbers only: never row values.
 */
import type { UploadIdentity } from './engine/index.js';

/** The blob version to ingest, and nothing else: every id the upload gets is derived from it. */
export type IngestInput = UploadIdentity;

export interface RegisterResult {
  uploadId: string;
  /** The upload already reached a final state (e.g. a start after its history was purged): nothing to do. */
  finished: boolean;
  status: string;
  /** Tuning read once by an activity, so the orchestrator stays deterministic if settings change. */
  maxChunksInFlight: number;
}

export type PlanResult =
  | { ok: true; chunksTotal: number; rowsTotal: number }
  | { ok: false; code: string; message: string };

export interface CommitInput {
  uploadId: string;
  chunkNo: number;
}

/** CommitResult code when the database's global commit slots were all taken: wait and retry, never give up. */
export const BUSY = 'busy';

export type CommitResult =
  | { ok: true; chunkNo: number; rowsCommitted: number; rowsRejected: number }
  | { ok: false; chunkNo: number; transient: boolean; code: string; message: string };

export interface ChunkRangeInput {
  uploadId: string;
  /** First chunk number (inclusive) and last (exclusive). */
  from: number;
  to: number;
  maxChunksInFlight: number;
}

export interface ChunkRangeResult {
  chunksDone: number;
  rowsCommitted: number;
  rowsRejected: number;
  /** Set when a chunk failed permanently or ran out of retries: the upload must fail. */
  failure?: { chunkNo: number; code: string; message: string };
}

export interface ActivateResult {
  status: 'complete' | 'failed' | 'superseded';
  rowsCommitted: number;
  rowsRejected: number;
  reason?: string;
}

export interface IngestOutput {
  uploadId: string;
  status: string;
  rowsCommitted: number;
  rowsRejected: number;
  chunksTotal: number;
  reason?: string;
}

export type IngestPhase = 'registering' | 'planning' | 'committing' | 'activating' | 'publishing' | 'done';

/** customStatus: small and fixed in shape (the extension caps it at 16 KB). */
export interface IngestStatus {
  phase: IngestPhase;
  chunksDone: number;
  chunksTotal: number;
  rowsCommitted: number;
  rowsRejected: number;
}

/** Operations of the per-upload progress entity. */
export type ProgressOperation =
  | { op: 'started'; input: { chunksTotal: number; rowsTotal: number } }
  | { op: 'chunksCommitted'; input: { chunks: number; rowsCommitted: number; rowsRejected: number } }
  | { op: 'finished'; input: { status: string; rowsCommitted: number; rowsRejected: number; reason?: string } };

/** Sub-orchestrations never hold more than this many chunks, so histories stay small. */
export const CHUNKS_PER_SUB_ORCHESTRATION = 500;
