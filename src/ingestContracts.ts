/**
 * Inputs and outputs that cross the durable boundary (they are stored in orchestration history).
 * Ids, counts and line numbers only: never row values.
 */
import type { BlobDeletion, FinalStatus, UploadIdentity, UploadStatus } from './engine/index.js';

/** The blob version to ingest, and nothing else: every id the upload gets is derived from it. */
export type IngestInput = UploadIdentity;

export interface RegisterResult {
  uploadId: string;
  /** The upload already reached a final state (e.g. a start after its history was purged): nothing to do. */
  finished: boolean;
  status: UploadStatus;
  /** Tuning read once by an activity, so the orchestrator stays deterministic if settings change. */
  maxChunksInFlight: number;
}

export type PlanResult =
  | { ok: true; chunksTotal: number; rowsTotal: number }
  | { ok: false; code: string; message: string };

export interface UploadRef {
  uploadId: string;
}

/**
 * An upload and the blob version it reads, as the orchestration was started for it: the activities that read the
 * file open it from here, so the write path never looks the blob up through the status read side.
 */
export interface UploadFile extends UploadRef {
  blob: UploadIdentity;
}

export interface CommitInput extends UploadFile {
  chunkNo: number;
}

/** CommitResult code when the database's global commit slots were all taken: wait and retry, never give up. */
export const BUSY = 'busy';

export type CommitResult =
  | { ok: true; chunkNo: number; rowsCommitted: number; rowsRejected: number }
  | { ok: false; chunkNo: number; transient: boolean; code: string; message: string };

export interface FailInput {
  uploadId: string;
  code: string;
  message: string;
}

export interface ActivateResult {
  status: FinalStatus;
  rowsCommitted: number;
  rowsRejected: number;
  reason?: string;
}

/** activateUpload's answer when planned chunks have no ledger row (commits a database failover lost): commit them again. */
export const CHUNKS_MISSING = 'chunks_missing';

export interface ChunksMissing {
  status: typeof CHUNKS_MISSING;
  missingChunks: number[];
  /** What the ledger holds without them: the upload's progress before they are committed again. */
  committed: CommitCounts;
}

export interface PublishResult {
  published: number;
  /** Events still waiting (Event Hubs unreachable): the sweeper retries them. */
  pending: number;
}

/** A resumable upload's session whose commit runs durably (uploadSessionCommitOrchestrator). */
export interface SessionRef {
  sessionId: string;
  state: string;
}

/** Where a session's commit ended: stored as `uploadId`, refused, or given back to its client (`open`). */
export type SessionCommitOutcome = { outcome: 'committed'; uploadId: string } | { outcome: 'failed' | 'open' | 'gone' };

/** Every activity by its registered name, with what crosses the durable boundary each way. */
export interface ActivityContracts {
  registerUpload: { input: IngestInput; output: RegisterResult };
  planUpload: { input: UploadFile; output: PlanResult };
  commitChunk: { input: CommitInput; output: CommitResult };
  activateUpload: { input: UploadRef; output: ActivateResult | ChunksMissing };
  failUpload: { input: FailInput; output: ActivateResult };
  publishOutbox: { input: UploadRef; output: PublishResult };
  deleteUploadBlob: { input: UploadRef; output: BlobDeletion };
  verifyUploadSession: { input: SessionRef; output: SessionCommitOutcome };
  reopenUploadSession: { input: SessionRef & { reason: string }; output: SessionCommitOutcome };
}

export type ActivityName = keyof ActivityContracts;
export type ActivityInput<N extends ActivityName> = ActivityContracts[N]['input'];
export type ActivityOutput<N extends ActivityName> = ActivityContracts[N]['output'];

/** Chunks committed so far and their rows: the one set of counts every progress channel reports. */
export interface CommitCounts {
  chunksDone: number;
  rowsCommitted: number;
  rowsRejected: number;
}

export type IngestPhase = 'registering' | 'planning' | 'committing' | 'activating' | 'publishing' | 'done';

/** customStatus of both orchestrators: small and fixed in shape (the extension caps it at 16 KB). */
export interface IngestStatus extends CommitCounts {
  phase: IngestPhase;
  chunksTotal: number;
}

/** Chunks [from, to) of one upload, committed at most `maxChunksInFlight` at a time. */
export interface ChunkRange extends UploadFile {
  /** First chunk number (inclusive) and last (exclusive). */
  from: number;
  to: number;
  maxChunksInFlight: number;
}

/** Input of a chunk sub-orchestration: its range, and the upload's progress when it starts (it reports on from there). */
export interface ChunkRangeInput extends ChunkRange {
  progress: IngestStatus;
}

export interface ChunkFailure {
  chunkNo: number;
  code: string;
  message: string;
}

/** The upload's counts after a range (not the range's own), and why it stopped if a chunk failed for good. */
export interface ChunkRangeResult extends CommitCounts {
  /** Set when a chunk failed permanently or ran out of retries: the upload must fail. */
  failure?: ChunkFailure;
}

export interface IngestOutput {
  uploadId: string;
  status: UploadStatus;
  rowsCommitted: number;
  rowsRejected: number;
  chunksTotal: number;
  reason?: string;
}

/** Operations of the per-upload progress entity. `committed` carries the upload's totals so far, not a delta. */
export type ProgressOperation =
  | { op: 'started'; input: { chunksTotal: number; rowsTotal: number } }
  | { op: 'committed'; input: CommitCounts }
  | { op: 'finished'; input: { status: UploadStatus; rowsCommitted: number; rowsRejected: number; reason?: string } };
