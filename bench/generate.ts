import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { COLUMNS } from '../src/engine/index.js';

/** Kinds of bad rows the generator plants, one rule each. */
export const BAD_KINDS = [
  'lds_hash_format',
  'participant_id_missing',
  'case_id_too_long',
  'closing_date_invalid',
  'interval_reversed',
  'too_many_intervals',
  'boolean_invalid',
  'field_count',
  'duplicate_participant_id',
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export interface GenerateOptions {
  rows: number;
  /** Share of rows that break one rule (0..1). */
  badShare?: number;
  /** Which rules bad rows break (default: all). */
  badKinds?: readonly BadKind[];
  seed?: number;
}

export interface GeneratedFile {
  bytes: number;
  rows: number;
  badRows: number;
}

export const HEADER = COLUMNS.join(',');

/** mulberry32: a small, fast, seeded stream of 32-bit values; the same seed gives the same file. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The same stream as numbers in [0, 1). */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** Participants CSV rows in the Piipan format; row i (1-based) is on line i + 1. */
export function* participantRows(options: GenerateOptions): Generator<{ text: string; bad: BadKind | undefined }> {
  const random = prng(options.seed ?? 42);
  const badShare = options.badShare ?? 0;
  const kinds = options.badKinds ?? BAD_KINDS;
  const int = (n: number) => Math.floor(random() * n);
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = () => `${2020 + int(5)}-${pad(1 + int(12))}-${pad(1 + int(28))}`;
  const hash = () => {
    let out = '';
    for (let i = 0; i < 16; i++) out += ((random() * 4294967296) >>> 0).toString(16).padStart(8, '0');
    return out;
  };
  let previousValid = false;
  for (let i = 1; i <= options.rows; i++) {
    let bad = random() < badShare ? kinds[int(kinds.length)] : undefined;
    let ldsHash = hash();
    let caseId = `CASE-${i}`;
    let participantId = `P${String(i).padStart(9, '0')}`;
    let closing = random() < 0.3 ? date() : '';
    const month = 1 + int(11);
    const year = 2022 + int(3);
    let issuance = Array.from({ length: int(4) }, (_, k) => `${year}-${Math.min(month + k, 12)}-1/${year}-${Math.min(month + k, 12)}-28`).join(' ');
    let vulnerable = ['true', 'false', ''][int(3)]!;
    let extra = '';
    switch (bad) {
      case 'lds_hash_format': ldsHash = ldsHash.toUpperCase(); break;
      case 'participant_id_missing': participantId = ''; break;
      case 'case_id_too_long': caseId = `CASE-${String(i).padStart(20, '0')}`; break;
      case 'closing_date_invalid': closing = `${year}-02-30`; break;
      case 'interval_reversed': issuance = `${year}-05-01/${year}-04-01`; break;
      case 'too_many_intervals': issuance = Array.from({ length: 4 }, (_, k) => `${year}-${k + 1}-1/${year}-${k + 1}-2`).join(' '); break;
      case 'boolean_invalid': vulnerable = 'yes'; break;
      case 'field_count': extra = ',unexpected'; break;
      case 'duplicate_participant_id': participantId = `P${String(Math.max(1, i - 1)).padStart(9, '0')}`; break;
      case undefined: break;
    }
    // Some valid rows quote a field, as spreadsheet exports do.
    const caseField = i % 97 === 0 ? `"${caseId}"` : caseId;
    // A repeat of the previous row's id is only a duplicate when that row was loaded under its own id.
    if (bad === 'duplicate_participant_id' && (i === 1 || !previousValid)) bad = undefined;
    previousValid = bad === undefined && participantId === `P${String(i).padStart(9, '0')}`;
    yield { text: `${ldsHash},${caseField},${participantId},${closing},${issuance},${vulnerable}${extra}\n`, bad };
  }
}

/** Writes a generated file; memory stays flat whatever the row count. */
export async function generateParticipantsCsv(path: string, options: GenerateOptions): Promise<GeneratedFile> {
  const out = createWriteStream(path);
  let bytes = 0;
  let badRows = 0;
  let batch = `${HEADER}\n`;
  for (const row of participantRows(options)) {
    if (row.bad) badRows++;
    batch += row.text;
    if (batch.length > 1 << 20) {
      bytes += Buffer.byteLength(batch);
      if (!out.write(batch)) await once(out, 'drain');
      batch = '';
    }
  }
  bytes += Buffer.byteLength(batch);
  out.end(batch);
  await once(out, 'finish');
  return { bytes, rows: options.rows, badRows };
}

// `node dist/bench/generate.js --rows N --bad SHARE --seed S --out FILE`
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, fallback: string) => {
    const index = process.argv.indexOf(`--${name}`);
    return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
  };
  const file = await generateParticipantsCsv(arg('out', 'participants.csv'), {
    rows: Number(arg('rows', '20000')),
    badShare: Number(arg('bad', '0')),
    seed: Number(arg('seed', '42')),
  });
  console.log(JSON.stringify(file));
}
