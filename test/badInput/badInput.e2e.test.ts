import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { startTestStack, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, activeRows, allRowErrors, finalStatus, getJson, hashOf, putBlob, validRows } from '../support/uploads.js';

/**
 * Adversarial files through the whole product (Event Grid -> host -> orchestration -> PostgreSQL): one generated
 * file per case, each in its own state whose good upload was activated first.
 */

const CHUNK_BYTES = 64 * 1024;
const GOOD_ROWS = 30;

type Expected =
  | { status: 'failed'; code: string; line: number | null; message: RegExp }
  | {
      status: 'complete';
      committed: number;
      /** Every rejected row: [line, column, code]. */
      rejected: Array<[number, string | null, string]>;
      warnings?: unknown[];
    };

interface Case {
  name: string;
  state: string;
  content: () => Buffer;
  expected: Expected;
}

const text = (s: string) => () => Buffer.from(s, 'utf8');
const rowsWithBadEvery = (rows: number, every: number) => {
  let out = `${CSV_HEADER}\n`;
  for (let i = 0; i < rows; i++) out += i % every === every / 2 ? `${hashOf(i).toUpperCase().replace(/0/g, 'A')},P${i},C${i}\n` : validRows(i, i + 1);
  return out;
};
const onePercentLines = Array.from({ length: 100 }, (_, k) => k * 100 + 50 + 2);
const duplicateIds = () => {
  // Rows 0..4999; rows 4000, 4500 and 4999 repeat the ids of rows 10, 20 and 30 (chunks apart).
  let out = `${CSV_HEADER}\n`;
  const repeats = new Map([[4000, 10], [4500, 20], [4999, 30]]);
  for (let i = 0; i < 5000; i++) out += `${hashOf(i)},P${repeats.get(i) ?? i},C${i}\n`;
  return out;
};

const CASES: Case[] = [
  { name: 'empty file', state: 'al', content: text(''), expected: { status: 'failed', code: 'empty_file', line: null, message: /empty/i } },
  { name: 'header only', state: 'ak', content: text(`${CSV_HEADER}\n`), expected: { status: 'failed', code: 'header_only', line: null, message: /header/i } },
  { name: 'no header', state: 'az', content: text(validRows(0, 5)), expected: { status: 'failed', code: 'no_header', line: 1, message: /line 1 is not a header/ } },
  { name: 'missing column', state: 'ar', content: text(`lds_hash,case_id\n${hashOf(1)},C1\n`), expected: { status: 'failed', code: 'missing_column', line: 1, message: /participant_id/ } },
  { name: 'duplicate column', state: 'co', content: text(`lds_hash,participant_id,Participant_ID\n${hashOf(1)},P1,P1\n`), expected: { status: 'failed', code: 'duplicate_column', line: 1, message: /participant_id more than once/ } },
  {
    name: 'unknown column (warning, rows kept)', state: 'ct',
    content: text(`${CSV_HEADER},notes\n${validRows(0, 20).replace(/\n/g, ',x\n')}`),
    expected: { status: 'complete', committed: 20, rejected: [], warnings: [{ code: 'unknown_column', column: 'notes' }] },
  },
  { name: 'UTF-8 BOM', state: 'de', content: text(`\uFEFF${CSV_HEADER}\n${validRows(0, 20)}`), expected: { status: 'complete', committed: 20, rejected: [] } },
  {
    name: 'CRLF and mixed line endings, no final newline', state: 'dc',
    content: text(`${CSV_HEADER}\r\n${validRows(0, 10, '\r\n')}${validRows(10, 19)}${hashOf(19)},P19,C19`),
    expected: { status: 'complete', committed: 20, rejected: [] },
  },
  {
    name: 'quoted newlines, commas and quotes', state: 'fl',
    // Row 1 spans lines 2-4; the bad row after it is on physical line 5.
    content: text(`${CSV_HEADER},notes\n${hashOf(0)},"P0",C0,"a, b\nc ""quoted""\nd"\nNOT-A-HASH,P1,C1,"x,y"\n${validRows(2, 40).replace(/\n/g, ',"n,\n"\n')}`),
    expected: { status: 'complete', committed: 39, rejected: [[5, 'lds_hash', 'invalid_format']] },
  },
  {
    name: 'unterminated quote', state: 'ga',
    content: text(`${CSV_HEADER}\n${validRows(0, 5)}${hashOf(5)},"P5,C5\n${validRows(6, 10)}`),
    expected: { status: 'failed', code: 'unterminated_quote', line: 7, message: /line 7/ },
  },
  {
    name: 'invalid UTF-8', state: 'hi',
    content: () => Buffer.concat([Buffer.from(`${CSV_HEADER}\n${validRows(0, 2)}${hashOf(2)},P2,C`), Buffer.from([0xff, 0xfe]), Buffer.from(`\n${validRows(3, 6)}`)]),
    expected: { status: 'failed', code: 'invalid_utf8', line: 4, message: /line 4/ },
  },
  {
    name: 'NUL byte', state: 'id',
    content: text(`${CSV_HEADER}\n${validRows(0, 3)}${hashOf(3)},P3,C\u00003\n${validRows(4, 6)}`),
    expected: { status: 'failed', code: 'nul_byte', line: 5, message: /line 5/ },
  },
  {
    name: '10 MiB line', state: 'il',
    content: text(`${CSV_HEADER}\n${validRows(0, 1)}${hashOf(1)},P1,${'A'.repeat(10 * 1024 * 1024)}\n${validRows(2, 5)}`),
    expected: { status: 'failed', code: 'line_too_long', line: 3, message: /line 3/ },
  },
  {
    name: 'every row bad', state: 'in',
    content: text(`${CSV_HEADER}\n${Array.from({ length: 50 }, (_, i) => `bad-${i},P${i},C${i}\n`).join('')}`),
    expected: { status: 'failed', code: 'too_many_rejected', line: null, message: /reject/i },
  },
  {
    name: '1 % bad rows spread across chunks', state: 'ia', content: text(rowsWithBadEvery(10_000, 100)),
    expected: { status: 'complete', committed: 9_900, rejected: onePercentLines.map((line): [number, string, string] => [line, 'lds_hash', 'invalid_format']) },
  },
  {
    name: 'duplicate participant ids across chunks', state: 'ks', content: text(duplicateIds()),
    expected: {
      status: 'complete', committed: 4_997,
      rejected: [[4002, 'participant_id', 'duplicate_participant_id'], [4502, 'participant_id', 'duplicate_participant_id'], [5001, 'participant_id', 'duplicate_participant_id']],
    },
  },
];

describe('bad input through the local host', () => {
  let t: TestStack;
  const previous = new Map<string, UploadStatusBody>();
  const results = new Map<string, UploadStatusBody>();

  beforeAll(async () => {
    t = await startTestStack({ INGEST_CHUNK_BYTES: String(CHUNK_BYTES) });
    // A good upload per state first, so each case can show the previous active upload survives.
    await Promise.all(CASES.map((c) => putBlob(t, `${c.state}/good.csv`, `${CSV_HEADER}\n${validRows(0, GOOD_ROWS)}`)));
    for (const c of CASES) previous.set(c.state, await finalStatus(t, `${c.state}/good.csv`));
    await Promise.all(CASES.map((c) => putBlob(t, `${c.state}/case.csv`, c.content())));
    for (const c of CASES) results.set(c.state, await finalStatus(t, `${c.state}/case.csv`));
  }, 300_000);
  afterAll(async () => t?.stop());

  it('activated every good upload first', () => {
    for (const status of previous.values()) expect(status).toMatchObject({ status: 'complete', isActive: true, rowsCommitted: GOOD_ROWS });
  });

  it.each(CASES)('$name', async (c) => {
    const status = results.get(c.state)!;
    const before = previous.get(c.state)!;
    const active = await activeRows(t, c.state);
    const expected = c.expected;
    if (expected.status === 'failed') {
      expect(status.status).toBe('failed');
      expect(status.isActive).toBe(false);
      expect(status.error).toMatchObject({ code: expected.code, line: expected.line });
      expect(status.error!.message).toMatch(expected.message);
      // Nothing of the failed file is visible; the previous upload is still active, whole.
      expect(active).toEqual({ n: GOOD_ROWS, distinct: GOOD_ROWS, uploadId: before.uploadId });
    } else {
      expect(status).toMatchObject({ status: 'complete', isActive: true, rowsCommitted: expected.committed, rowsRejected: expected.rejected.length });
      if (expected.warnings) expect(status.warnings).toEqual(expected.warnings);
      const errors = await allRowErrors(t, status);
      expect(errors.map((e) => [e.line, e.column, e.code])).toEqual(expected.rejected);
      for (const e of errors) expect(e.message).toMatch(/\S/);
      // Nothing lost: every valid row is active, once.
      expect(active).toEqual({ n: expected.committed, distinct: expected.committed, uploadId: status.uploadId });
      const old = await getJson<UploadStatusBody>(t, before.links.self);
      expect(old).toMatchObject({ status: 'superseded', isActive: false, rowsCommitted: GOOD_ROWS });
    }
  });

  it('spread the 1 % file over many chunks', () => {
    expect(results.get('ia')!.chunksTotal).toBeGreaterThan(10);
    expect(results.get('ks')!.chunksTotal).toBeGreaterThan(5);
  });

  it('names the duplicate\'s first line in its message', async () => {
    const errors = await allRowErrors(t, results.get('ks')!);
    expect(errors.map((e) => e.message)).toEqual(['participant_id repeats line 12', 'participant_id repeats line 22', 'participant_id repeats line 32']);
  });
});
