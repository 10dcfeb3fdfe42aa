import { beforeAll, describe, expect, it } from 'vitest';
import { listRowErrors } from '../../src/engine/index.js';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { FULL_HEADER } from '../support/uploads.js';

const HASH = 'a'.repeat(64) + '0123456789abcdef'.repeat(4);

/** [what, row fields after the hash and participant id are filled in, expected error (column:code) or null]. */
type Case = [string, Partial<Record<'lds_hash' | 'case_id' | 'participant_closing_date' | 'recent_benefit_issuance_dates' | 'vulnerable_individual' | 'participant_id', string>>, string | null];

const cases: Case[] = [
  ['a minimal valid row', {}, null],
  ['lds_hash missing', { lds_hash: '' }, 'lds_hash:required'],
  ['lds_hash uppercase', { lds_hash: HASH.toUpperCase() }, 'lds_hash:invalid_format'],
  ['lds_hash 127 chars', { lds_hash: HASH.slice(1) }, 'lds_hash:invalid_format'],
  ['lds_hash 129 chars', { lds_hash: `${HASH}a` }, 'lds_hash:invalid_format'],
  ['lds_hash non-hex', { lds_hash: `${HASH.slice(1)}g` }, 'lds_hash:invalid_format'],
  ['case_id with - and _', { case_id: 'Ab-9_z' }, null],
  ['case_id of 20 chars', { case_id: 'c'.repeat(20) }, null],
  ['case_id of 21 chars', { case_id: 'c'.repeat(21) }, 'case_id:too_long'],
  ['case_id with a space', { case_id: 'a b' }, 'case_id:invalid_format'],
  ['case_id with a dot', { case_id: 'a.b' }, 'case_id:invalid_format'],
  ['participant_id missing', { participant_id: '' }, 'participant_id:required'],
  ['participant_id of 20 chars', { participant_id: 'p'.repeat(20) }, null],
  ['participant_id of 21 chars', { participant_id: 'p'.repeat(21) }, 'participant_id:too_long'],
  ['participant_id with a slash', { participant_id: 'p/1' }, 'participant_id:invalid_format'],
  ['closing date valid', { participant_closing_date: '2024-02-29' }, null],
  ['closing date Feb 30', { participant_closing_date: '2024-02-30' }, 'participant_closing_date:invalid_date'],
  ['closing date 2023-02-29', { participant_closing_date: '2023-02-29' }, 'participant_closing_date:invalid_date'],
  ['closing date 1-digit month', { participant_closing_date: '2024-2-01' }, 'participant_closing_date:invalid_format'],
  ['closing date US style', { participant_closing_date: '02/01/2024' }, 'participant_closing_date:invalid_format'],
  ['one interval', { recent_benefit_issuance_dates: '2024-01-01/2024-01-31' }, null],
  ['three short intervals', { recent_benefit_issuance_dates: '2024-1-1/2024-1-31 2024-2-1/2024-2-29 2024-3-1/2024-3-1' }, null],
  ['four intervals', { recent_benefit_issuance_dates: '2024-1-1/2024-1-2 2024-2-1/2024-2-2 2024-3-1/2024-3-2 2024-4-1/2024-4-2' }, 'recent_benefit_issuance_dates:too_many_intervals'],
  ['a reversed interval', { recent_benefit_issuance_dates: '2024-1-1/2024-1-2 2024-3-01/2024-2-01' }, 'recent_benefit_issuance_dates:invalid_interval'],
  ['an unreal date in an interval', { recent_benefit_issuance_dates: '2024-02-30/2024-03-01' }, 'recent_benefit_issuance_dates:invalid_date'],
  ['an interval without end', { recent_benefit_issuance_dates: '2024-01-01' }, 'recent_benefit_issuance_dates:invalid_format'],
  ['a 3-digit month', { recent_benefit_issuance_dates: '2024-001-01/2024-01-02' }, 'recent_benefit_issuance_dates:invalid_format'],
  ['compact dates', { recent_benefit_issuance_dates: '20240101/20240102' }, 'recent_benefit_issuance_dates:invalid_format'],
  ['two spaces between intervals', { recent_benefit_issuance_dates: '2024-1-1/2024-1-2  2024-2-1/2024-2-2' }, 'recent_benefit_issuance_dates:invalid_format'],
  ['a comma-separated list', { recent_benefit_issuance_dates: '"2024-1-1/2024-1-2,2024-2-1/2024-2-2"' }, 'recent_benefit_issuance_dates:invalid_format'],
  ['vulnerable true', { vulnerable_individual: 'true' }, null],
  ['vulnerable false', { vulnerable_individual: 'false' }, null],
  ['vulnerable TRUE', { vulnerable_individual: 'TRUE' }, 'vulnerable_individual:invalid_boolean'],
  ['vulnerable 1', { vulnerable_individual: '1' }, 'vulnerable_individual:invalid_boolean'],
];

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
      [[2, 17, 23, 32]],
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
