import { z } from 'zod';
import { identityOf, instanceIdOf, isFinal, UPLOAD_STATUSES, type UploadView } from '../engine/index.js';
import type { UploadProgressState } from '../entities/uploadProgress.js';

const count = z.number().int().min(0);
const time = z.iso.datetime();

/** What the status API, the dashboard and the CLI show for one upload: ids, counts and times only. */
export const uploadStatusBody = z
  .object({
    uploadId: z.string().meta({ example: 'ca-0123456789abcdef0123' }),
    instanceId: z.string().meta({ description: 'The ingest orchestration\'s instance id.', example: 'ingest-ca-0123456789abcdef0123' }),
    state: z.string().meta({ example: 'CA' }),
    blobName: z.string().meta({ description: 'The blob\'s name in the uploads container (what `?blob=` takes).', example: 'ca/participants.csv' }),
    status: z.enum(UPLOAD_STATUSES),
    isActive: z.boolean().meta({ description: 'The state\'s active upload: the one matches are found against.' }),
    rowsTotal: count.nullable().meta({ description: 'Known once the file is planned.' }),
    rowsCommitted: count,
    rowsRejected: count,
    chunksDone: count,
    chunksTotal: count,
    percent: z.number().min(0).max(100),
    startedAt: time,
    completedAt: time.nullable(),
    rowsPerSecond: count.nullable(),
    error: z
      .object({ code: z.string(), message: z.string(), line: z.number().int().nullable() })
      .nullable()
      .meta({ description: 'Why the whole file was refused (failed uploads).' }),
    errorCounts: z.record(z.string(), count).meta({ description: 'Rejected rows by error code.' }),
    warnings: z.array(z.object({ code: z.literal('unknown_column'), column: z.string() })),
    links: z.object({
      self: z.string(),
      errors: z.string(),
      orchestration: z.string().optional().meta({ description: 'The orchestration\'s steps (the operator console\'s API): given to operators only, the callers it answers.' }),
    }),
  })
  .meta({ id: 'UploadStatus', description: 'One upload: ids, counts and times, never row values.' });
export type UploadStatusBody = z.output<typeof uploadStatusBody>;

/**
 * Combines the database (the truth once final, and the committed-chunk ledger while running) with the progress
 * entity (live while running, updated per wave of committed chunks, so it may run ahead of or behind the ledger).
 * `operator`: the caller may read the orchestration console, so the body links to it.
 */
export function statusBody(view: UploadView, live: UploadProgressState | undefined, now: Date, operator = false): UploadStatusBody {
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
      ...(operator ? { orchestration: `/api/uploads/${view.uploadId}/orchestration` } : {}),
    },
  };
}
