import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngineDatabase, ingest, type EngineDatabase } from '../support/engineDatabase.js';
import { FULL_HEADER } from '../support/uploads.js';


/** Real calendar dates over the whole range the rules accept (years 1-9999), leap days included. */
const calendarDate = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => ({ y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() }));
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const iso = (date: { y: number; m: number; d: number }) => `${pad(date.y, 4)}-${pad(date.m, 2)}-${pad(date.d, 2)}`;
/** The issuance format allows one-digit months and days. */
const short = (date: { y: number; m: number; d: number }, oneDigit: boolean) =>
  oneDigit ? `${pad(date.y, 4)}-${date.m}-${date.d}` : iso(date);
const interval = fc.tuple(calendarDate, calendarDate, fc.boolean())
  .map(([a, b, oneDigit]) => (iso(a) <= iso(b) ? [a, b] : [b, a]).map((date) => short(date, oneDigit)).join('/'));

const row = fc.record({
  hash: fc.uint8Array({ minLength: 64, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('hex')),
  caseId: fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/),
  closing: fc.option(calendarDate.map(iso), { nil: '' }),
  intervals: fc.array(interval, { maxLength: 3 }).map((list) => list.join(' ')),
  vulnerable: fc.constantFrom('', 'true', 'false'),
});

// The encoder writes PostgreSQL's binary COPY form itself (day numbers, daterange[] arrays, bytea): every value must
// read back exactly as PostgreSQL's own text input reads the same field.
describe('binary COPY values', () => {
  let engine: EngineDatabase;
  beforeAll(async () => {
    engine = await createEngineDatabase();
  });
  afterAll(async () => engine.close());

  it('stores every valid field as PostgreSQL parses its text', async () => {
    const rows = fc.sample(row, { numRuns: 2000, seed: 18 });
    const lines = rows.map((r, i) => [r.hash, r.caseId, `P${i}`, r.closing, r.intervals, r.vulnerable].join(','));
    const result = await ingest(engine.pool, `${FULL_HEADER}\n${lines.join('\n')}\n`, { state: 'BC', targetChunkBytes: 64 * 1024 });
    expect(result.activation).toMatchObject({ status: 'complete', rowsCommitted: rows.length, rowsRejected: 0 });
    const { rows: mismatches } = await engine.pool.query(
      `SELECT p.line FROM bulkflow.active_participants p
       JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS f(hash, case_id, closing, intervals, vulnerable, n)
         ON p.line = f.n + 1
       WHERE p.state = 'BC' AND NOT (
         p.lds_hash = decode(f.hash, 'hex')
         AND p.case_id IS NOT DISTINCT FROM nullif(f.case_id, '')
         AND p.participant_id = 'P' || (f.n - 1)
         AND p.participant_closing_date IS NOT DISTINCT FROM nullif(f.closing, '')::date
         AND p.recent_benefit_issuance_dates IS NOT DISTINCT FROM
             (SELECT array_agg(daterange(split_part(i, '/', 1)::date, split_part(i, '/', 2)::date, '[]') ORDER BY o)
              FROM unnest(string_to_array(nullif(f.intervals, ''), ' ')) WITH ORDINALITY AS t(i, o))
         AND p.vulnerable_individual IS NOT DISTINCT FROM nullif(f.vulnerable, '')::boolean)`,
      [rows.map((r) => r.hash), rows.map((r) => r.caseId), rows.map((r) => r.closing), rows.map((r) => r.intervals), rows.map((r) => r.vulnerable)],
    );
    expect(mismatches).toEqual([]);
    const { rows: [count] } = await engine.pool.query(`SELECT count(*)::int AS n FROM bulkflow.active_participants WHERE state = 'BC'`);
    expect(count.n).toBe(rows.length);
  });
});
