import { z } from 'zod';
import { uploadStatusBody } from '../status/statusBody.js';

/**
 * The bodies of the upload routes, as the OpenAPI document declares them and the handlers send them
 * (httpEncoders.ts `json` takes the schema): ids, counts, sizes and times, never row values.
 */

const count = z.number().int().min(0);
const time = z.iso.datetime();
const stateCode = z.string().meta({ example: 'CA' });
const SIZE_RULE = 'size must be the file\'s length in bytes (an empty file has nothing to upload)';
const SHA256_RULE = 'sha256 must be the file\'s SHA-256 as 64 hex digits';

/** 202 of the single PUT and of a commit: the ids the file's BlobCreated event starts. */
export const uploadAccepted = z
  .object({
    uploadId: z.string().meta({ example: 'ca-0123456789abcdef0123' }),
    instanceId: z.string().meta({ example: 'ingest-ca-0123456789abcdef0123' }),
    statusUrl: z.url().meta({ example: 'https://bulkflow.example.gov/api/uploads/ca-0123456789abcdef0123' }),
  })
  .meta({ id: 'UploadAccepted', description: 'The file is stored; ingestion starts from its BlobCreated event. Poll `statusUrl`.' });

/** A file name the blob path, logs and the dashboard can carry as is: no path, no spaces, no control characters. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,195}\.csv$/i;
export const FILE_NAME_RULE = 'the file name must end in .csv and use only letters, digits, ".", "_" and "-" (at most 200 characters)';
export const isSafeFileName = (name: string): boolean => SAFE_NAME.test(name) && !name.includes('..');

/** POST …/upload-sessions: what the file is (the edge decodes the request with it; the size limit is a setting). */
export const uploadSessionRequest = z
  .object({
    fileName: z.string({ error: FILE_NAME_RULE })
      .refine(isSafeFileName, { error: FILE_NAME_RULE })
      .meta({ pattern: SAFE_NAME.source, example: 'participants.csv' }),
    size: z.number({ error: SIZE_RULE }).int({ error: SIZE_RULE }).min(1, { error: SIZE_RULE }).max(Number.MAX_SAFE_INTEGER, { error: SIZE_RULE })
      .meta({ description: 'The file\'s length in bytes.', example: 1_073_741_824 }),
    sha256: z.string({ error: SHA256_RULE }).regex(/^[0-9a-fA-F]{64}$/, { error: SHA256_RULE }).nullish()
      .meta({ description: 'The whole file\'s SHA-256 (hex), checked before the commit.' }),
  }, { error: 'send a JSON object: { "fileName": "x.csv", "size": <bytes>, "sha256": "<hex, optional>" }' })
  .meta({ id: 'UploadSessionRequest' });

export const partReceived = z
  .object({
    number: z.number().int().min(1),
    bytes: count,
    sha256: z.base64().meta({ description: 'The part\'s SHA-256, base64 (as in Content-Digest).' }),
  })
  .meta({ id: 'UploadPart' });

/** A resumable upload: where to send what is missing, and until when. */
export const uploadSession = z
  .object({
    id: z.string(),
    state: stateCode,
    fileName: z.string(),
    size: z.number().int().min(1),
    sha256: z.string().nullable(),
    partBytes: z.number().int().min(1).meta({ description: 'Every part but the last is this long.' }),
    partCount: z.number().int().min(1),
    lastPartBytes: z.number().int().min(1),
    status: z.enum(['open', 'verifying', 'committed', 'failed']).meta({
      description: 'open: taking parts; verifying: the commit runs (whole-file SHA-256, then the copy); committed: stored (`uploadId`, `statusUrl`); failed: refused at commit (`failure`).',
    }),
    uploadId: z.string().optional().meta({ description: 'The upload a committed session became.' }),
    instanceId: z.string().optional(),
    statusUrl: z.url().optional(),
    failure: z.object({ title: z.string(), detail: z.string() }).optional().meta({ description: 'Why the commit was refused (failed) or gave up (open again).' }),
    receivedBytes: count,
    parts: z.array(partReceived),
    missingParts: z.array(z.number().int().min(1)),
    createdAt: time,
    expiresAt: time.meta({ description: 'Ended and its parts deleted when nothing arrives until then (UPLOAD_ABANDON_HOURS after the last activity).' }),
    url: z.url(),
    partUrlTemplate: z.string().meta({ example: 'https://bulkflow.example.gov/api/states/CA/upload-sessions/0f3c…/parts/{number}' }),
    commitUrl: z.url(),
  })
  .meta({ id: 'UploadSession' });

export const uploadSessionList = z
  .object({
    partBytes: z.number().int().min(1).meta({ description: 'Files up to this size go in one PUT; larger ones in parts of this size.' }),
    maxBytes: z.number().int().min(1).meta({ description: 'The largest file accepted.' }),
    abandonHours: z.number().min(0),
    sessions: z.array(uploadSession),
  })
  .meta({ id: 'UploadSessionList' });

export const stateUploadList = z
  .object({ state: stateCode, activeUploadId: z.string().nullable(), uploads: z.array(uploadStatusBody) })
  .meta({ id: 'StateUploads', description: 'A state\'s uploads, newest first.' });

const stateSummary = z.object({
  state: stateCode,
  uploads: count,
  activeUploadId: z.string().nullable(),
  running: count.meta({ description: 'Uploads still pending or running.' }),
  lastRegisteredAt: time.nullable(),
  recentUploads: z.array(uploadStatusBody).optional().meta({ description: 'With `uploads=N`: its N newest uploads.' }),
});
export const stateSummaryList = z.object({ states: z.array(stateSummary) }).meta({ id: 'StateSummaries' });

export const rowErrorPage = z
  .object({
    uploadId: z.string(),
    rowsRejected: count,
    errorCounts: z.record(z.string(), count),
    errors: z.array(z.object({
      line: z.number().int().min(1),
      column: z.string().nullable(),
      code: z.string().meta({ example: 'invalid_date' }),
      message: z.string().meta({ description: 'The rule broken; never the value.' }),
    })),
    next: z.string().nullable().meta({ description: 'The cursor for `after`; null on the last page.' }),
  })
  .meta({ id: 'RowErrors', description: 'Rejected rows: line, column, code and rule, never the values.' });
