import type pg from 'pg';

/**
 * Every advisory lock the engine takes, named in one place so no two uses share a key by accident. All are
 * transaction-level (released with the commit, also when a session dies) and keyed by two int4s.
 */

/** The first key of the locks that are not an upload's: `hashtext(class)`; the second key says which one. */
export const LOCK_CLASS = {
  /** One activation per state at a time (second key: hashtext(state)). */
  state: 'bulkflow.state',
  /** The global bound on concurrent chunk commits (second key: the slot number). */
  commitSlot: 'bulkflow.commit-slot',
  /** Writers of one state pair's match records (second key: the pair's key). */
  matchPair: 'bulkflow.match-pair',
} as const;

/** Parts of one upload's lock `(hashtext(upload id), part)` beside its chunks' numbers (0 and up: one chunk's commit). */
export const UPLOAD_LOCK = {
  /** The plan's writes and finalize (exact totals). */
  plan: -1,
  /** The upload's table as activation builds its lookup index and attaches it: two activations must not race on the names. */
  table: -2,
  /** Activation's participant_id index build (beside the lookup index build). */
  idIndex: -3,
  /** Activation's duplicate search and removal in the first half of the ids; the second half's is the part below it. */
  duplicates: -4,
} as const;

/** Locks one part of an upload: a chunk number or an `UPLOAD_LOCK` part. */
export async function lockUpload(client: pg.PoolClient, uploadId: string, part: number): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1), $2)', [uploadId, part]);
}

/** Waits for the state's activation lock, so "the previous active upload" is well defined. */
export async function lockStateActivation(client: pg.PoolClient, state: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [LOCK_CLASS.state, state]);
}
