import { createHash } from 'node:crypto';
import { COLUMNS, isFinal } from '../../src/engine/index.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { waitFor, type TestStack } from './localStack.js';

/** The required columns and case_id: the header most tests need. */
export const CSV_HEADER = 'lds_hash,participant_id,case_id';
/** Every column of the format, in its order. */
export const FULL_HEADER = COLUMNS.join(',');
/**
 * A valid 128-hex lds_hash derived from n (distinct per n). Its first 8 bytes, the lookup key (lds_key) the indexes
 * and key filters work on, are as random as a real SHA-512's; the other 56 bytes hold n, which numberOf reads back.
 */
export const hashOf = (n: number) => createHash('sha512').update(`participant ${n}`).digest('hex').slice(0, 16) + n.toString(16).padStart(112, '0');
/** The n of a hashOf(n). */
export const numberOf = (hash: string) => parseInt(hash.slice(16), 16);
/** Valid rows `from .. to-1` (participant ids P{n}), each ending in `eol`. */
export const validRows = (from: number, to: number, eol = '\n') => {
  let out = '';
  for (let i = from; i < to; i++) out += `${hashOf(i)},P${i},C${i}${eol}`;
  return out;
};

export async function putBlob(t: TestStack, blobName: string, content: string | Buffer): Promise<string> {
  const body = typeof content === 'string' ? Buffer.from(content) : content;
  const response = await t.uploads.getBlockBlobClient(blobName).upload(body, body.length);
  return response.etag!;
}

export interface RowErrorBody {
  line: number;
  column: string | null;
  code: string;
  message: string;
}

export async function getJson<T>(t: Pick<TestStack, 'api'>, path: string): Promise<T> {
  const response = await t.api(path);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return (await response.json()) as T;
}

/** The final status of the upload of `blobName` (optionally: a different upload than `notUploadId`). */
export async function finalStatus(t: TestStack, blobName: string, options: { notUploadId?: string; timeoutMs?: number } = {}): Promise<UploadStatusBody> {
  return waitFor(`upload of ${blobName} to finish`, async () => {
    const response = await t.api(`/api/uploads?blob=${encodeURIComponent(blobName)}`);
    if (response.status === 404) return undefined;
    const body = (await response.json()) as UploadStatusBody;
    if (options.notUploadId && body.uploadId === options.notUploadId) return undefined;
    return isFinal(body.status) ? body : undefined;
  }, options.timeoutMs ?? 120_000);
}

/** Every stored row error of an upload, paging through the errors API. */
export async function allRowErrors(t: TestStack, status: UploadStatusBody): Promise<RowErrorBody[]> {
  type Page = { errors: RowErrorBody[]; next: string | null };
  const errors: RowErrorBody[] = [];
  let cursor: string | null = '';
  while (cursor !== null) {
    const page: Page = await getJson<Page>(t, `${status.links.errors}?limit=500${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`);
    errors.push(...page.errors);
    cursor = page.next;
  }
  return errors;
}

/** Rows of the state's active upload and how many distinct participant ids they hold. */
export async function activeRows(t: TestStack, state: string): Promise<{ n: number; distinct: number; uploadId: string | null }> {
  const { rows } = await t.pool.query<{ n: number; distinct: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT participant_id)::int AS distinct FROM bulkflow.active_participants WHERE state = $1`,
    [state.toUpperCase()],
  );
  const active = await getJson<{ activeUploadId: string | null }>(t, `/api/states/${state.toLowerCase()}/uploads`);
  return { ...rows[0]!, uploadId: active.activeUploadId };
}
