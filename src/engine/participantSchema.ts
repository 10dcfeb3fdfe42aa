import { parse } from 'csv-parse/sync';
import { WholeFileError } from './errors.js';

/**
 * The participant file format (Piipan bulk upload, import-schema.json): its columns, the header,
 * and the messages of the column rules (the rules themselves are in rowRules.ts).
 */
export const COLUMNS = [
  'lds_hash',
  'case_id',
  'participant_id',
  'participant_closing_date',
  'recent_benefit_issuance_dates',
  'vulnerable_individual',
] as const;
export type ColumnName = (typeof COLUMNS)[number];

const REQUIRED: readonly ColumnName[] = ['lds_hash', 'participant_id'];

/** Messages name the rule, never the value (row values are personal data). Keyed `column:code`. */
export const ROW_ERROR_MESSAGES: Record<string, string> = {
  'lds_hash:required': 'lds_hash is required',
  'lds_hash:invalid_format': 'lds_hash must be exactly 128 lowercase hexadecimal characters (SHA-512)',
  'case_id:invalid_format': 'case_id may contain only letters, digits, hyphens and underscores',
  'case_id:too_long': 'case_id must be at most 20 characters',
  'participant_id:required': 'participant_id is required',
  'participant_id:invalid_format': 'participant_id may contain only letters, digits, hyphens and underscores',
  'participant_id:too_long': 'participant_id must be at most 20 characters',
  'participant_closing_date:invalid_format': 'participant_closing_date must be a date written YYYY-MM-DD',
  'participant_closing_date:invalid_date': 'participant_closing_date is not a real calendar date',
  'recent_benefit_issuance_dates:invalid_format':
    'recent_benefit_issuance_dates must be space-separated intervals written YYYY-MM-DD/YYYY-MM-DD',
  'recent_benefit_issuance_dates:too_many_intervals': 'recent_benefit_issuance_dates may hold at most 3 intervals',
  'recent_benefit_issuance_dates:invalid_date': 'recent_benefit_issuance_dates contains a date that is not a real calendar date',
  'recent_benefit_issuance_dates:invalid_interval': 'recent_benefit_issuance_dates has an interval that ends before it starts',
  'vulnerable_individual:invalid_boolean': 'vulnerable_individual must be true, false or empty',
  ':invalid_line_break': 'the row contains a carriage return outside quotes that does not end a line',
};

export function fieldCountMessage(fields: number, expected: number): string {
  return `the row has ${fields} fields but the header has ${expected}`;
}

export function duplicateMessage(firstLine: number | string): string {
  return `participant_id repeats line ${firstLine}`;
}

export interface UploadWarning {
  code: 'unknown_column';
  column: string;
}

export interface Header {
  /** Column names in file order, trimmed and lower-cased; unknown ones kept so COPY sees every field. */
  columns: string[];
  warnings: UploadWarning[];
}

/** Parses and checks the header record (BOM already stripped or not: both are fine). */
export function parseHeader(record: Buffer, line: number): Header {
  const rows = parse(record, { bom: true, relax_quotes: true, relax_column_count: true }) as string[][];
  const columns = (rows[0] ?? []).map((name) => name.trim().toLowerCase());
  const known = new Set<string>(COLUMNS);
  if (!columns.some((name) => known.has(name))) {
    throw new WholeFileError(
      'no_header',
      `line ${line} is not a header: it names none of the columns ${COLUMNS.join(', ')}`,
      line,
    );
  }
  const seen = new Set<string>();
  for (const name of columns) {
    if (known.has(name) && seen.has(name)) {
      throw new WholeFileError('duplicate_column', `the header names column ${name} more than once`, line);
    }
    seen.add(name);
  }
  const missing = REQUIRED.filter((name) => !seen.has(name));
  if (missing.length > 0) {
    throw new WholeFileError('missing_column', `the header lacks the required column(s) ${missing.join(', ')}`, line);
  }
  const warnings = [...new Set(columns.filter((name) => !known.has(name)))].map(
    (column): UploadWarning => ({ code: 'unknown_column', column }),
  );
  return { columns, warnings };
}
