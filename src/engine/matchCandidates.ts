import { probeRange, type ProbeWorker, SharedProbeMemory, sharedProbeWorker } from './candidateProbe.js';
import { type Queryable } from './db.js';
import { ensureKeyFilters, filterBytes, finalizedRows, forEachKeyRange, keyFilterWindows, rangesFor, type KeyFilter, type KeyWords } from './keyFilter.js';

/** An upload's candidate keys (bigint as text, in key order) by other upload. */
export type CandidatesByUpload = ReadonlyMap<string, readonly string[]>;

/**
 * The lookup keys an upload may share with each of the others, by other upload: its keys, read once from
 * its lookup index a range at a time, each range probed in memory against the window of each other upload's key
 * filter that covers the range (a filter is built first for an upload that has none; the windows of a range come in
 * one statement with its keys, and ranges are cut small enough that their windows stay a few MB), so a run holds a
 * range or two and their windows, a few MB however large the uploads.
 * Only these candidates are then looked up in the tables (sharedRowsSql), where the full hashes are compared and a
 * filter's false positives (0.018 % of the keys per other upload) find nothing.
 *
 * This replaced merging the upload's key index with every other one's in PostgreSQL, which read the other uploads'
 * indexes whole in every run (S x N index entries over a national load): a run now reads its own keys once and the
 * others' filters (~3 bytes per key) about once.
 */
export async function candidateKeys(db: Queryable, ownUploadId: string, others: readonly string[], options: CandidateOptions = {}): Promise<CandidatesByUpload> {
  const found = others.map((): string[] => []);
  if (others.length === 0) return new Map();
  const blocks = await ensureKeyFilters(db, others);
  const keys = await finalizedRows(db, ownUploadId);
  const worker = options.worker === undefined ? (keys * others.length >= WORKER_PROBES ? sharedProbeWorker() : undefined) : options.worker ?? undefined;
  // A worker that fails is not asked again in this run (the next run starts a new one).
  let helper = worker && { worker, memory: new SharedProbeMemory(), onFailure: () => (helper = undefined) };
  await forEachKeyRange(
    db,
    ownUploadId,
    rangesFor(keys, filterBytes(blocks)),
    async (keys, windows: KeyFilter[]) => {
      for (const [position, positions] of (await probeRange(keys, windows, helper)).entries()) {
        for (let i = 0; i < positions.length; i++) found[position]!.push(keyText(keys, positions[i]!));
      }
    },
    (range) => keyFilterWindows(db, others, blocks, range),
  );
  return new Map(others.map((other, position) => [other, found[position]!]));
}

/**
 * Probes (keys x other uploads) from which a run probes on a second thread too: ~0.3 s on one core at ~16 ns a probe,
 * against a worker's start (~50 ms, once per process) and ~2 ms per range to share the keys and windows with it. A
 * small upload's run (Wyoming's 27k keys x 52 filters: 1.4M) stays on the main thread.
 */
const WORKER_PROBES = 20_000_000;

export interface CandidateOptions {
  /** The worker to probe with beside the main thread; null: none. By default the process's, when the run is large. */
  worker?: ProbeWorker | null;
}

/** Key number i of `keys` as PostgreSQL's bigint text. */
function keyText(keys: KeyWords, i: number): string {
  return BigInt.asIntN(64, (BigInt(keys[2 * i]!) << 32n) | BigInt(keys[2 * i + 1]!)).toString();
}
