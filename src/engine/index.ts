/** The ingestion engine: plan, commit and activate participant uploads in PostgreSQL (no Azure imports). */
export { fileByteSource, type ByteSource } from './byteSource.js';
export { classifyError, CommitSlotsBusyError, isTransient, PermanentError, TransientError, WholeFileError, type WholeFileErrorCode } from './errors.js';
export { migrate, packageRoot } from './migrate.js';
export * from './ingestPolicy.js';
export { planChunks, type Chunk, type Plan, type PlanOptions } from './planner.js';
export { JURISDICTION_RULE, JURISDICTIONS, jurisdictionOf, type Jurisdiction } from './jurisdictions.js';
export { COLUMNS, type UploadWarning } from './participantSchema.js';
export {
  identityOf, instanceIdOf, normalizeIdentity, UPLOAD_ID, UPLOAD_OR_INSTANCE_ID, uploadIdOf, uploadIdOfInstance, uploadRefOf,
  type UploadIdentity, type UploadRef, type UploadSource,
} from './uploadIdentity.js';
export { isFinal, type FinalStatus, type UploadStatus } from './uploadStatus.js';
export { registerUpload, type Registration } from './registerUpload.js';
export { planUpload, type PlanOutcome, type StoredPlan } from './planUpload.js';
export type { FailureReason } from './uploadFailure.js';
export { commitChunk, type ChunkRef, type ChunkResult, type CommitOptions } from './commitChunk.js';
export {
  activateUpload, failUpload, IncompleteUploadError, type ActivationOptions, type ActivationResult,
} from './activateUpload.js';
export { cleanupUploads, type CleanupOptions, type CleanupResult } from './cleanup.js';
export {
  getUpload, uploadStateOf, listStateUploads, listStates, listRowErrors, type UploadView, type RowError, type RowErrorCursor, type StateSummary,
} from './readModel.js';
export { EVENT_SOURCE, UPLOAD_COMPLETED, UPLOAD_FAILED, type UploadEventData } from './outbox.js';
