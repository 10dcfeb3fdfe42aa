import { beforeAll, describe, expect, it } from 'vitest';
import { listRowErrors } from '../../src/engine/index.js';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { FULL_HEADER } from '../support/uploads.js';

const HASH = 'a'.repeat(64) + '0123456789abcdef'.repeat(4);

type Column = 'lds_hash' | 'case_id' | 'participant_id' | 'participant_closing_date' | 'recent_benefit_issuance_dates' | 'vulnerable_individual';

/**
 * Per column, values that are stored and values refused with each error code. Each value is tried in a row of its
 * own, every other field valid (a hash, a participant id, the optional ones empty).
 */
const rules: Record<Column, { stored: string[]; refused: Record<string, string[]> }> = {
  lds_hash: { stored: [], refused: { required: [''], invalid_format: [HASH.toUpperCase(), HASH.slice(1), `${HASH}a`, `${HASH.slice(1)}g`] } },
  case_id: { stored: ['Ab-9_z', 'c'.repeat(20)], refused: { too_long: ['c'.repeat(21)], invalid_format: ['a b', 'a.b'] } },
  participant_id: { stored: ['p'.repeat(20)], refused: { required: [''], too_long: ['p'.repeat(21)], invalid_format: ['p/1'] } },
  participant_closing_date: { stored: ['2024-02-29'], refused: { invalid_date: ['2024-02-30', '2023-02-29'], invalid_format: ['2024-2-01', '02/01/2024'] } },
  recent_benefit_issuance_dates: {
    stored: ['2024-01-01/2024-01-31', '2024-1-1/2024-1-31 2024-2-1/2024-2-29 2024-3-1/2024-3-1'],
    refused: {
      too_many_intervals: ['2024-1-1/2024-1-2 2024-2-1/2024-2-2 2024-3-1/2024-3-2 2024-4-1/2024-4-2'],
      invalid_interval: ['2024-1-1/2024-1-2 2024-3-01/2024-2-01'],
      invalid_date: ['2024-02-30/2024-03-01'],
      // No end; a 3-digit month; compact dates; two spaces between intervals; a comma-separated list.
      invalid_format: ['2024-01-01', '2024-001-01/2024-01-02', '20240101/20240102', '2024-1-1/2024-1-2  2024-2-1/2024-2-2', '"2024-1-1/2024-1-2,2024-2-1/2024-2-2"'],
    },
  },
  vulnerable_individual: { stored: ['true', 'false'], refused: { invalid_boolean: ['TRUE', '1'] } },
};

/** [what, the row's field that differs from a minimal valid row, expected error (column:code) or null]. */
type Case = [string, Partial<Record<Column, string>>, string | null];

const shown = (value: string) => (value.length > 40 ? `${JSON.stringify(value.slice(0, 12))}... (${value.length} chars)` : JSON.stringify(value));
const cases: Case[] = [
  ['a minimal valid row', {}, null],
  // As long as a hash, after rows whose hash was: the encoder's guessed split must not hide the extra field.
  ['a comma inside a 128-character lds_hash', { lds_hash: `${HASH.slice(0, 64)},${HASH.slice(65)}` }, 'null:field_count'],
  ...Object.entries(rules).flatMap(([column, { stored, refused }]): Case[] => [
    ...stored.map((value): Case => [`${column} ${shown(value)}`, { [column]: value }, null]),
    ...Object.entries(refused).flatMap(([code, values]) => values.map((value): Case => [`${column} ${shown(value)}`, { [column]: value }, `${column}:${code}`])),
  ]),
];
/** The line of the row that tries `value` in `column` (the header is line 1). */
const lineOf = (column: Column, value: string) => cases.findIndex(([, fields]) => fields[column] === value) + 2;

describe('column rules', () => {
  const engine = useEngineDatabase();
  let uploadId: string;
  beforeAll(async () => {
    const lines = cases.map(([, fields], i) => {
      const row = { lds_hash: HASH, case_id: '', participant_id: `P${i}`, participant_closing_date: '', recent_benefit_issuance_dates: '', vulnerable_individual: '', ...fields };
      return [row.lds_hash, row.case_id, row.participant_id, row.participant_closing_date, row.recent_benefit_issuance_dates, row.vulnerable_individual].join(',');
    });
    const result = await ingest(engine.pool, `${FULL_HEADER}\n${lines.join('\n')}\n`, { targetChunkBytes: 600 });
    uploadId = result.uploadId;
    expect(result.activation?.status).toBe('complete');
  });

  it.each(cases.map((c, i) => [c[0], c[2], i + 2] as const))('%s -> %s', async (_name, expected, line) => {
    const { errors } = await listRowErrors(engine.pool, uploadId, { limit: 1000 });
    const onLine = errors.filter((e) => e.line === line).map((e) => `${e.column}:${e.code}`);
    const stored = await engine.pool.query('SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE line = $1', [line]);
    if (expected === null) {
      expect(onLine).toEqual([]);
      expect(stored.rows[0].n).toBe(1);
    } else {
      expect(onLine).toEqual([expected]);
      expect(stored.rows[0].n).toBe(0);
    }
  });

  it('stores valid rows typed', async () => {
    const { rows } = await engine.pool.query(
      `SELECT participant_closing_date::text AS closing, recent_benefit_issuance_dates::text AS issuance, vulnerable_individual, case_id
       FROM bulkflow.active_participants WHERE line = ANY($1) ORDER BY line`,
      [[2, lineOf('participant_closing_date', '2024-02-29'), lineOf('recent_benefit_issuance_dates', rules.recent_benefit_issuance_dates.stored[1]!), lineOf('vulnerable_individual', 'true')]],
    );
    expect(rows).toEqual([
      { closing: null, issuance: null, vulnerable_individual: null, case_id: null },
      { closing: '2024-02-29', issuance: null, vulnerable_individual: null, case_id: null },
      { closing: null, issuance: '{"[2024-01-01,2024-02-01)","[2024-02-01,2024-03-01)","[2024-03-01,2024-03-02)"}', vulnerable_individual: null, case_id: null },
      { closing: null, issuance: null, vulnerable_individual: true, case_id: null },
    ]);
  });
});

describe('header order and unknown columns', () => {
  const engine = useEngineDatabase();

  it('reads columns by name in any order, ignores unknown ones and leaves absent optional ones empty', async () => {
    const content = [
      'notes,participant_id,recent_benefit_issuance_dates,LDS_HASH,vulnerable_individual',
      `"a, quoted note",P1,2024-1-1/2024-1-31,${HASH},false`,
      `x,"P2",,${HASH},`,
      `y,P3,2024-2-1/2024-1-1,${HASH},true`,
      '',
    ].join('\r\n');
    const result = await ingest(engine.pool, content, { state: 'HO', source: 'ho.csv' });
    expect(result.planned).toMatchObject({ ok: true, plan: { warnings: [{ code: 'unknown_column', column: 'notes' }] } });
    expect(result.activation).toMatchObject({ status: 'complete', rowsCommitted: 2, rowsRejected: 1 });
    const { rows } = await engine.pool.query(
      `SELECT line, participant_id, encode(lds_hash, 'hex') = $1 AS hash_ok, case_id, participant_closing_date, recent_benefit_issuance_dates::text AS issuance, vulnerable_individual
       FROM bulkflow.active_participants WHERE state = 'HO' ORDER BY line`,
      [HASH],
    );
    expect(rows).toEqual([
      { line: 2, participant_id: 'P1', hash_ok: true, case_id: null, participant_closing_date: null, issuance: '{"[2024-01-01,2024-02-01)"}', vulnerable_individual: false },
      { line: 3, participant_id: 'P2', hash_ok: true, case_id: null, participant_closing_date: null, issuance: null, vulnerable_individual: null },
    ]);
    const { errors } = await listRowErrors(engine.pool, result.uploadId);
    expect(errors).toEqual([
      { line: 4, column: 'recent_benefit_issuance_dates', code: 'invalid_interval', message: 'recent_benefit_issuance_dates has an interval that ends before it starts' },
    ]);
  });
});
