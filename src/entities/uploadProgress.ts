import type { EntityContext } from 'durable-functions';
import { isFinal, type UploadStatus } from '../engine/index.js';
import type { ProgressOperation } from '../ingestContracts.js';

/** Live progress of one upload (entity key = upload id). Small: counts and timestamps only. */
export interface UploadProgressState {
  status: UploadStatus;
  chunksTotal: number;
  rowsTotal: number;
  chunksDone: number;
  rowsCommitted: number;
  rowsRejected: number;
  startedAt: string | null;
  updatedAt: string | null;
  reason?: string;
}

const initial = (): UploadProgressState => ({
  status: 'pending', chunksTotal: 0, rowsTotal: 0, chunksDone: 0, rowsCommitted: 0, rowsRejected: 0,
  startedAt: null, updatedAt: null,
});

export function uploadProgress(context: EntityContext<UploadProgressState>): void {
  const state = context.df.getState(initial) ?? initial();
  // Entities are not replayed, so reading the clock here is safe (unlike in orchestrators).
  const now = new Date().toISOString();
  const operation = { op: context.df.operationName, input: context.df.getInput() } as ProgressOperation;
  switch (operation.op) {
    case 'started':
      Object.assign(state, { status: 'running', chunksTotal: operation.input.chunksTotal, rowsTotal: operation.input.rowsTotal });
      state.startedAt ??= now;
      break;
    case 'committed':
      // Totals, not deltas. Signals from a sub-orchestration and from its parent are not ordered with each other,
      // so a late one never moves progress back, nor overwrites the final counts once finished.
      if (!isFinal(state.status) && operation.input.chunksDone >= state.chunksDone) Object.assign(state, operation.input);
      break;
    case 'finished':
      Object.assign(state, operation.input);
      break;
    default:
      throw new Error(`uploadProgress: unknown operation ${String(context.df.operationName)}`);
  }
  state.updatedAt = now;
  context.df.setState(state);
}
