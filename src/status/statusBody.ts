import { identityOf, instanceIdOf, isFinal, type UploadStatus, type UploadView } from '../engine/index.js';
import type { UploadProgressState } from '../entities/uploadProgress.js';

/** What the status API, the dashboard and the CLI show for one upload: ids, counts and times only. */
export interface UploadStatusBody {
  uploadId: string;
  instanceId: string;
  state: string;
  /** The blob's name in the uploads container, `ca/file.csv` (what `?blob=` takes). */
  blobName: string;
  status: UploadStatus;
  isActive: boolean;
  rowsTotal: number | null;
  rowsCommitted: number;
  rowsRejected: number;
  chunksDone: number;
  chunksTotal: number;
  percent: number;
  startedAt: string;
  completedAt: string | null;
  rowsPerSecond: number | null;
  error: UploadView['error'];
  errorCounts: Record<string, number>;
  warnings: UploadView['warnings'];
  links: { self: string; errors: string; orchestration: string };
}

/**
 * Combines the database (the truth once final, and the committed-chunk ledger while running) with the progress
 * entity (live while running, updated per wave of committed chunks, so it may run ahead of or behind the ledger).
 */
export function statusBody(view: UploadView, live: UploadProgressState | undefined, now: Date): UploadStatusBody {
  const running = !isFinal(view.status);
  const useLive = running && live !== undefined && live.chunksDone >= view.chunksCommitted;
  const rowsCommitted = useLive ? live.rowsCommitted : view.rowsCommitted;
  const rowsRejected = useLive ? live.rowsRejected : view.rowsRejected;
  const chunksDone = useLive ? live.chunksDone : view.chunksCommitted;
  const chunksTotal = view.chunksPlanned || (live?.chunksTotal ?? 0);
  const rowsTotal = view.rowsTotal ?? (live?.rowsTotal || null);
  const completedAt = view.completedAt ?? view.failedAt;
  const seconds = ((completedAt ? Date.parse(completedAt) : now.getTime()) - Date.parse(view.registeredAt)) / 1000;
  const rowsDone = rowsCommitted + rowsRejected;
  const percent = running
    ? rowsTotal ? Math.min(100, (rowsDone / rowsTotal) * 100) : chunksTotal ? (chunksDone / chunksTotal) * 100 : 0
    : 100;
  const instanceId = instanceIdOf(view.uploadId);
  return {
    uploadId: view.uploadId,
    instanceId,
    state: view.state,
    blobName: identityOf(view).blobName,
    status: view.status,
    isActive: view.active,
    rowsTotal,
    rowsCommitted,
    rowsRejected,
    chunksDone,
    chunksTotal,
    percent: Math.round(percent * 10) / 10,
    startedAt: view.registeredAt,
    completedAt,
    rowsPerSecond: seconds > 0 && rowsDone > 0 ? Math.round(rowsDone / seconds) : null,
    error: view.error,
    errorCounts: view.errorCounts,
    warnings: view.warnings,
    links: {
      self: `/api/uploads/${view.uploadId}`,
      errors: `/api/uploads/${view.uploadId}/errors`,
      orchestration: `/runtime/webhooks/durabletask/instances/${instanceId}`,
    },
  };
}
