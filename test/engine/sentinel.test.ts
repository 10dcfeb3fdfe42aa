import { describe, expect, it, vi } from 'vitest';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { FULL_HEADER, hashOf } from '../support/uploads.js';

const SENTINEL = 'QZXSENTINEL';

describe('row values stay out of errors, events, other tables and logs', () => {
  const engine = useEngineDatabase();

  it('finds the planted marker only in the participants table', async () => {
    const good = (i: number) => `${hashOf(i)},C${i},P${i},,,`;
    // Every field of every bad row carries the marker, each breaking a different rule.
    const bad = [
      `${SENTINEL},${SENTINEL},${SENTINEL}.x,${SENTINEL},${SENTINEL},${SENTINEL}`,
      `"${SENTINEL}","${SENTINEL}-${'y'.repeat(30)}","${SENTINEL}","2024-${SENTINEL}","${SENTINEL}/${SENTINEL}","${SENTINEL}"`,
      `${SENTINEL},${SENTINEL},${SENTINEL},${SENTINEL},${SENTINEL},${SENTINEL},${SENTINEL}`,
      `${SENTINEL}\r${SENTINEL},${SENTINEL},${SENTINEL},${SENTINEL},${SENTINEL},${SENTINEL}`,
    ];
    // A valid row may legitimately hold it (case_id) and a duplicate of it is rejected.
    const valid = `${'f'.repeat(128)},${SENTINEL},${SENTINEL},,,`;
    const duplicate = `${'e'.repeat(128)},${SENTINEL}2,${SENTINEL},,,`;
    const rows = [good(1), ...bad, good(2), valid, duplicate, ...Array.from({ length: 50 }, (_, i) => good(i + 3))];
    const logged: string[] = [];
    const capture = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
    const spies = [
      vi.spyOn(console, 'log').mockImplementation(capture),
      vi.spyOn(console, 'info').mockImplementation(capture),
      vi.spyOn(console, 'warn').mockImplementation(capture),
      vi.spyOn(console, 'error').mockImplementation(capture),
      vi.spyOn(console, 'debug').mockImplementation(capture),
    ];
    let result;
    try {
      result = await ingest(engine.pool, `${FULL_HEADER}\n${rows.join('\n')}\n`, { state: 'SN', source: 'sn.csv', targetChunkBytes: 700 });
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(result.activation).toMatchObject({ status: 'complete', rowsRejected: 5, rowsCommitted: 53 });
    expect(logged.join('\n')).not.toContain(SENTINEL);

    const tables = await engine.pool.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
    );
    const holding: string[] = [];
    for (const { name } of tables.rows) {
      const { rows: hits } = await engine.pool.query(`SELECT count(*)::int AS n FROM ONLY ${name} t WHERE t::text LIKE $1`, [`%${SENTINEL}%`]);
      if (hits[0].n > 0) holding.push(name);
    }
    expect(holding).toEqual([`bulkflow.participants_sn_${result.uploadId.slice(3)}`]);
    const errors = await engine.pool.query('SELECT line, "column", code FROM bulkflow.row_errors WHERE upload_id = $1 ORDER BY line, "column"', [result.uploadId]);
    expect(errors.rows.map((e) => `${e.line}:${e.column ?? '*'}:${e.code}`)).toEqual([
      '3:lds_hash:invalid_format', '3:participant_closing_date:invalid_format', '3:participant_id:invalid_format',
      '3:recent_benefit_issuance_dates:invalid_format', '3:vulnerable_individual:invalid_boolean',
      '4:case_id:too_long', '4:lds_hash:invalid_format', '4:participant_closing_date:invalid_format',
      '4:recent_benefit_issuance_dates:invalid_format', '4:vulnerable_individual:invalid_boolean',
      '5:*:field_count', '6:*:invalid_line_break', '9:participant_id:duplicate_participant_id',
    ]);
  });
});
