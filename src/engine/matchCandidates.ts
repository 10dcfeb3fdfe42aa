import { type Queryable } from './db.js';
import { ensureKeyFilter, type KeyWords, readKeys } from './keyFilter.js';

/** Candidate keys of a match run, in two parallel arrays: the key (bigint as text) and the other upload's position. */
export interface CandidateKeys {
  keys: string[];
  others: number[];
}

/**
 * The lookup keys an upload may share with each of the others (`others[i]` for position i): its keys, read once from
 * its lookup index, probed in memory against each other upload's key filter, one filter at a time (built first for an
 * upload that has none). Only these candidates are then looked up in the tables (sharedRowsSql), where the full
 * hashes are compared and a filter's false positives (0.13 % of the keys per other upload) find nothing.
 *
 * This replaced merging the upload's key index with every other one's in PostgreSQL, which read the other uploads'
 * indexes whole in every run (S x N index entries over a national load): a run now reads its own keys once and
 * ~11 MB of filter per 5.4M keys of the others.
 */
export async function candidateKeys(db: Queryable, ownUploadId: string, others: readonly string[]): Promise<CandidateKeys> {
  const found: CandidateKeys = { keys: [], others: [] };
  if (others.length === 0) return found;
  const { rows: [own] } = await db.query<{ rows: string }>('SELECT rows_committed AS rows FROM bulkflow.uploads WHERE upload_id = $1', [ownUploadId]);
  const keys = await readKeys(db, ownUploadId, Number(own?.rows ?? 0));
  for (const [position, otherUploadId] of others.entries()) {
    const filter = await ensureKeyFilter(db, otherUploadId);
    for (const i of filter.mayHoldOf(keys)) {
      found.keys.push(keyText(keys, i));
      found.others.push(position);
    }
  }
  return found;
}

/** Key number i of `keys` as PostgreSQL's bigint text. */
function keyText(keys: KeyWords, i: number): string {
  return BigInt.asIntN(64, (BigInt(keys[2 * i]!) << 32n) | BigInt(keys[2 * i + 1]!)).toString();
}
