import { type Queryable } from './db.js';
import { ensureKeyFilter, forEachKeyBatch, keyFilterWindow, type KeyWords } from './keyFilter.js';

/** Candidate keys of a match run, in two parallel arrays: the key (bigint as text) and the other upload's position. */
export interface CandidateKeys {
  keys: string[];
  others: number[];
}

/**
 * The lookup keys an upload may share with each of the others (`others[i]` for position i): its keys, read once from
 * its lookup index a batch at a time, each batch probed in memory against the window of each other upload's key
 * filter that covers the batch's key range (a filter is built first for an upload that has none), so a run holds one
 * batch and one window, a few MB however large the uploads. Only these candidates are then looked up in the tables
 * (sharedRowsSql), where the full hashes are compared and a filter's false positives (0.13 % of the keys per other
 * upload) find nothing.
 *
 * This replaced merging the upload's key index with every other one's in PostgreSQL, which read the other uploads'
 * indexes whole in every run (S x N index entries over a national load): a run now reads its own keys once and the
 * others' filters (~2 bytes per key) about once.
 */
export async function candidateKeys(db: Queryable, ownUploadId: string, others: readonly string[]): Promise<CandidateKeys> {
  const found: CandidateKeys = { keys: [], others: [] };
  if (others.length === 0) return found;
  const blocks: number[] = [];
  for (const other of others) blocks.push(await ensureKeyFilter(db, other));
  await forEachKeyBatch(db, ownUploadId, async (keys) => {
    if (keys.length === 0) return;
    for (const [position, other] of others.entries()) {
      const window = await keyFilterWindow(db, other, blocks[position]!, keys[0]!, keys[keys.length - 2]!);
      for (const i of window.mayHoldOf(keys)) {
        found.keys.push(keyText(keys, i));
        found.others.push(position);
      }
    }
  });
  return found;
}

/** Key number i of `keys` as PostgreSQL's bigint text. */
function keyText(keys: KeyWords, i: number): string {
  return BigInt.asIntN(64, (BigInt(keys[2 * i]!) << 32n) | BigInt(keys[2 * i + 1]!)).toString();
}
