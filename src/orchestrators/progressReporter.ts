import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { functionNames } from '../functionNames.js';
import type { CommitCounts, CommitResult, IngestOutput, IngestPhase, IngestStatus, ProgressOperation } from '../ingestContracts.js';

/**
 * The single writer of an upload's progress: the orchestration's customStatus and the signals to the upload's
 * progress entity. Counts are summed here and nowhere else; the entity receives them as totals. A chunk
 * sub-orchestration starts from its parent's status, so both report the same shape and the same totals.
 */
export class ProgressReporter {
  private readonly status: IngestStatus;
  private entity: df.EntityId | undefined;

  constructor(private readonly context: OrchestrationContext, from: IngestStatus, uploadId?: string) {
    this.status = { ...from };
    if (uploadId !== undefined) this.registered(uploadId);
    this.write();
  }

  static initial(): IngestStatus {
    return { phase: 'registering', chunksDone: 0, chunksTotal: 0, rowsCommitted: 0, rowsRejected: 0 };
  }

  /** The upload's entity is known once the upload is registered. */
  registered(uploadId: string): void {
    this.entity = new df.EntityId(functionNames.uploadProgress, uploadId);
  }

  get counts(): CommitCounts {
    const { chunksDone, rowsCommitted, rowsRejected } = this.status;
    return { chunksDone, rowsCommitted, rowsRejected };
  }

  /** A copy of the current status, to hand to a sub-orchestration. */
  get snapshot(): IngestStatus {
    return { ...this.status };
  }

  enter(phase: IngestPhase): void {
    this.status.phase = phase;
    this.write();
  }

  planned({ chunksTotal, rowsTotal }: { chunksTotal: number; rowsTotal: number }): void {
    this.signal({ op: 'started', input: { chunksTotal, rowsTotal } });
    Object.assign(this.status, { phase: 'committing', chunksTotal });
    this.write();
  }

  /** One wave of chunk commits came back: the successful ones count. */
  committed(results: CommitResult[]): void {
    for (const result of results) {
      if (!result.ok) continue;
      this.status.chunksDone++;
      this.status.rowsCommitted += result.rowsCommitted;
      this.status.rowsRejected += result.rowsRejected;
    }
    this.signal({ op: 'committed', input: this.counts });
    this.write();
  }

  /** A sub-orchestration returned the upload's totals; it has already told the entity. */
  reached(counts: CommitCounts): void {
    const { chunksDone, rowsCommitted, rowsRejected } = counts;
    Object.assign(this.status, { chunksDone, rowsCommitted, rowsRejected });
    this.write();
  }

  /** The upload settled: its final counts (after activation) go to both channels, then the event is published. */
  finished(output: IngestOutput): void {
    const { status, rowsCommitted, rowsRejected, reason } = output;
    this.signal({ op: 'finished', input: { status, rowsCommitted, rowsRejected, ...(reason ? { reason } : {}) } });
    Object.assign(this.status, { phase: 'publishing', rowsCommitted, rowsRejected });
    this.write();
  }

  private signal(operation: ProgressOperation): void {
    if (!this.entity) throw new Error('progress reported before the upload was registered');
    this.context.df.signalEntity(this.entity, operation.op, operation.input);
  }

  private write(): void {
    this.context.df.setCustomStatus({ ...this.status });
  }
}
