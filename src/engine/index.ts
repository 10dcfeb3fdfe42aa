/**
 * The engine's public face: everything the rest of the app (and local/) may use of the domain, which knows no Azure.
 * Code outside src/engine imports the engine only from here (test/engine/publicFace.test.ts holds everyone to it);
 * the modules not named here (db, the COPY encoders, the record scanner, the row rules, the advisory locks, the
 * outcome row) are the engine's own. A module whose every export is public is re-exported whole, so adding to it
 * needs no line here; from the others only the names listed.
 */

// Uploads: identity, policy, the walk register → plan → commit → activate (or fail), and their errors.
export * from './uploadIdentity.js';
export * from './uploadStatus.js';
export * from './ingestPolicy.js';
export * from './errors.js';
export * from './byteSource.js';
export * from './registerUpload.js';
export * from './uploadSessions.js';
export { planChunks, type Chunk, type Plan, type PlanOptions } from './planner.js';
export * from './jurisdictions.js';
export { planUpload, type PlanOutcome, type StoredPlan } from './planUpload.js';
export { commitChunk, type ChunkRef, type ChunkResult, type CommitOptions } from './commitChunk.js';
export { activateUpload, IncompleteUploadError, type ActivationOptions, type LedgerTotals } from './activateUpload.js';
export * from './failUpload.js';
export type { ActivationResult } from './uploadOutcome.js';
export type { FailureReason } from './uploadFailure.js';
export { COLUMNS, type ColumnName, type UploadWarning } from './participantSchema.js';

// What states and operators read, and the housekeeping of what is kept.
export * from './readModel.js';
export * from './cleanup.js';
export * from './rawFileRetention.js';
export * from './auditTrail.js';
export * from './opsSignals.js';

// Events: the outbox's event types and its delivery.
export * from './eventData.js';
export * from './outboxDelivery.js';

// Matches: analysis after an upload, real-time queries, reads, dispositions and their resolution.
export { getMatchRun, runMatchAnalyses, runMatchAnalysis, type MatchCount, type MatchEvent, type MatchRun } from './matchAnalysis.js';
export { purgeClosedMatches } from './matchRecords.js';
export * from './matchReads.js';
export * from './matchQuery.js';
export * from './matchDispositions.js';
export * from './matchResolution.js';

export { migrate } from './migrate.js';
