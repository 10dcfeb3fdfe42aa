import { z } from 'zod';
import type pg from 'pg';
import { withTransaction } from './db.js';
import { keyFilters } from './keyFilter.js';
import { lockPairs } from './matchAnalysis.js';
import { writeQueryMatchesEvents } from './outbox.js';
import type { MatchStatus } from './matchReads.js';
import { ROW_ERROR_MESSAGES } from './participantSchema.js';
import { identifier, ldsHash, type Check } from './rowRules.js';

/** Persons in one query (Piipan's find_matches takes 1-50). */
export const MAX_QUERY_PERSONS = 50;

/** One person of a real-time query (validated by the caller): the hash, and optionally the asking state's own ids. */
export interface QueryPerson {
  ldsHash: string;
  participantId?: string;
  caseId?: string;
}

/** A match of one person: the record's id and the other state's participant, as the match read API shows them. */
export interface QueryMatch {
  matchId: string;
  otherState: string;
  otherParticipant: { participantId: string; caseId: string | null };
  status: MatchStatus;
  /** True when this query created the record (or opened it again). */
  created: boolean;
}

export interface QueryAnswer {
  /** Per person, in the order asked. */
  results: Array<{ index: number; matches: QueryMatch[] }>;
  hits: number;
}

/** A person's field, checked by the upload's own column rule for it: its messages are the row errors'. */
function column(name: 'lds_hash' | 'participant_id' | 'case_id', check: Check) {
  const message = (code: string) => ROW_ERROR_MESSAGES[`${name}:${code}`]!;
  return z.string({ error: (issue) => message(issue.input === undefined || issue.input === null ? 'required' : 'invalid_format') })
    .check((payload) => {
      const code = check(Buffer.from(payload.value), 0, Buffer.byteLength(payload.value));
      if (code) payload.issues.push({ code: 'custom', message: message(code), input: payload.value });
    });
}

/** The identifier rule (rowRules.ts), for the OpenAPI document. */
const IDENTIFIER = { pattern: '^[A-Za-z0-9_-]*$', maxLength: 20, description: 'The asking state\'s own id (optional).' };

/**
 * The query body `{"data": [{"lds_hash": "...", "participant_id"?: "...", "case_id"?: "..."}, ...]}`: 1-50 persons,
 * each field checked by the upload's own column rules. The edge decodes the request with it (httpRoutes.ts); its
 * messages name the position and the rule, never a value.
 */
export const matchQuerySchema = z.object({
  data: z
    .array(
      z.strictObject({
        lds_hash: column('lds_hash', ldsHash).meta({ pattern: '^[0-9a-f]{128}$', description: 'The person\'s SHA-512 hash (as in the uploads).' }),
        participant_id: column('participant_id', identifier(false)).meta(IDENTIFIER).nullish(),
        case_id: column('case_id', identifier(false)).meta(IDENTIFIER).nullish(),
      }, {
        error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field; a person has lds_hash, participant_id and case_id' : 'each person must be an object with lds_hash'),
      }),
      { error: 'the body must be {"data": [persons]}' },
    )
    .min(1, { error: (issue) => persons(issue.input) })
    .max(MAX_QUERY_PERSONS, { error: (issue) => persons(issue.input) }),
}, { error: 'the body must be {"data": [persons]}' });

const persons = (data: unknown) => `data holds ${(data as unknown[]).length} persons: a query takes 1 to ${MAX_QUERY_PERSONS}`;

/** The persons of a decoded query (an empty id is no id). */
export function queryPersons(query: z.output<typeof matchQuerySchema>): QueryPerson[] {
  return query.data.map((person) => ({
    ldsHash: person.lds_hash,
    ...(person.participant_id ? { participantId: person.participant_id } : {}),
    ...(person.case_id ? { caseId: person.case_id } : {}),
  }));
}

interface Hit {
  state: string;
  upload_id: string;
  lds_hash: Buffer;
  participant_id: string;
  case_id: string | null;
}

/**
 * Finds each person in the other states' active uploads (never the asking state's own, never a partial, failed or
 * superseded upload) and creates or reuses the match record of each (asking state, other state, hash), under the
 * same HMAC id as bulk matching: bulk analysis and queries meet on one record.
 *
 * - The asking side is the asking state's active upload row holding the hash, as bulk matching makes it; otherwise
 *   (an applicant not enrolled yet) the ids the query gave, with no upload.
 * - A record is created by the query (`initiator` 'query'), reused as it is when open, opened again when an upload
 *   had closed it, and answered as closed, unchanged, when its states closed it (their dispositions stand).
 * - Records are written under the pair locks of match runs, so a run and a query never write one record at once.
 * - Each other state with records the query opened is told, as a match run tells it: one `matches.updated` with the
 *   records' ids, in the query's transaction. `queryId` (the request's id) makes the event's id.
 */
export async function runMatchQuery(pool: pg.Pool, state: string, persons: readonly QueryPerson[], queryId: string): Promise<QueryAnswer> {
  const asking = state.toUpperCase();
  const hashes = persons.map((person) => Buffer.from(person.ldsHash, 'hex'));
  return withTransaction(pool, async (client) => {
    const found = await findHits(pool, client, asking, hashes);
    const others = [...new Set(found.hits.map((hit) => hit.state))];
    if (others.length === 0) return { results: persons.map((_, index) => ({ index, matches: [] })), hits: 0 };
    await lockPairs(client, asking, others);
    // Under the locks: an upload activated meanwhile is the one to answer from.
    const { hits, own } = (await sameUploads(client, found.uploads)) ? found : await findHits(pool, client, asking, hashes);
    const byHash = new Map(persons.map((person, index) => [person.ldsHash, index]));
    const ownSide = (hit: Hit) => {
      const held = own.get(hit.lds_hash.toString('hex'));
      if (held) return { participant: held.participant_id, case: held.case_id, upload: held.upload_id };
      const person = persons[byHash.get(hit.lds_hash.toString('hex'))!]!;
      return { participant: person.participantId ?? null, case: person.caseId ?? null, upload: null };
    };
    const sides = hits.map(ownSide);
    const { rows } = await client.query<{ other_state: string; lds_hash: Buffer; match_id: string; open: boolean; created: boolean }>(
      `WITH input AS (
         SELECT i.*, least($1::text, i.other_state) AS state_a, greatest($1::text, i.other_state) AS state_b,
                $1::text < i.other_state AS own_is_a
         FROM unnest($2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
           AS i(other_state, lds_hash, other_participant, other_case, other_upload, own_participant, own_case, own_upload)
       ),
       rows AS MATERIALIZED (
         SELECT bulkflow.match_id(k.key, i.state_a, i.state_b, i.lds_hash) AS match_id, i.*
         FROM input i CROSS JOIN bulkflow.match_id_key k
       ),
       written AS (
         INSERT INTO bulkflow.matches AS m (match_id, state_a, state_b, lds_hash, initiating_state, initiator,
                                            a_participant_id, a_case_id, a_upload_id, b_participant_id, b_case_id, b_upload_id)
         SELECT match_id, state_a, state_b, lds_hash, $1, 'query',
                CASE WHEN own_is_a THEN own_participant ELSE other_participant END,
                CASE WHEN own_is_a THEN own_case ELSE other_case END,
                CASE WHEN own_is_a THEN own_upload ELSE other_upload END,
                CASE WHEN own_is_a THEN other_participant ELSE own_participant END,
                CASE WHEN own_is_a THEN other_case ELSE own_case END,
                CASE WHEN own_is_a THEN other_upload ELSE own_upload END
         FROM rows ORDER BY match_id
         ON CONFLICT (match_id) DO UPDATE SET
           a_participant_id = excluded.a_participant_id, a_case_id = excluded.a_case_id, a_upload_id = excluded.a_upload_id,
           b_participant_id = excluded.b_participant_id, b_case_id = excluded.b_case_id, b_upload_id = excluded.b_upload_id,
           initiating_state = excluded.initiating_state, initiator = 'query', opened_at = now(), updated_at = now(),
           closed_at = NULL, closed_reason = NULL, closed_by_upload = NULL
         -- Open records are reused as they are; records their states closed stay closed.
         WHERE m.closed_reason = 'upload'
         RETURNING match_id
       )
       SELECT r.other_state, r.lds_hash, r.match_id, w.match_id IS NOT NULL OR m.closed_at IS NULL AS open, w.match_id IS NOT NULL AS created
       FROM rows r LEFT JOIN written w USING (match_id) LEFT JOIN bulkflow.matches m USING (match_id)`,
      [
        asking,
        hits.map((hit) => hit.state), hits.map((hit) => hit.lds_hash),
        hits.map((hit) => hit.participant_id), hits.map((hit) => hit.case_id), hits.map((hit) => hit.upload_id),
        sides.map((side) => side.participant), sides.map((side) => side.case), sides.map((side) => side.upload),
      ],
    );
    await announce(client, queryId, asking, rows);
    const records = new Map(rows.map((row) => [`${row.other_state}:${row.lds_hash.toString('hex')}`, row]));
    const results = persons.map((person, index) => ({
      index,
      matches: hits
        .filter((hit) => hit.lds_hash.toString('hex') === person.ldsHash)
        .map((hit): QueryMatch => {
          const record = records.get(`${hit.state}:${person.ldsHash}`)!;
          return {
            matchId: record.match_id,
            otherState: hit.state,
            otherParticipant: { participantId: hit.participant_id, caseId: hit.case_id },
            status: record.open ? 'open' : 'closed',
            created: record.created,
          };
        }),
    }));
    return { results, hits: results.reduce((total, result) => total + result.matches.length, 0) };
  });
}

/**
 * The other states' active upload rows holding any of the hashes (the lowest participant_id per hash and upload,
 * as bulk matching takes it), and the asking state's own. Each upload's key filter (keyFilter.ts) says which uploads
 * may hold each hash; only those pairs are probed, in one statement: per pair, one probe of that upload's lookup index
 * (lds_key, the hash's first 8 bytes), the full hash compared for the rows found. A query's cost thus follows its
 * hits, not the number of active states (README "Real-time match query").
 */
async function findHits(pool: pg.Pool, client: pg.PoolClient, asking: string, hashes: Buffer[]) {
  const { rows: active } = await client.query<{ state: string; upload_id: string }>('SELECT state, upload_id FROM bulkflow.active_uploads ORDER BY state');
  const uploads = new Map(active.map((row) => [row.state, row.upload_id]));
  const filters = await keyFilters(pool, client, [...uploads.values()]);
  const probes: { state: string[]; upload: string[]; hash: Buffer[] } = { state: [], upload: [], hash: [] };
  for (const { state, upload_id: uploadId } of active) {
    const filter = filters.get(uploadId);
    for (const hash of hashes) {
      if (filter && !filter.mayHold(hash)) continue;
      probes.state.push(state);
      probes.upload.push(uploadId);
      probes.hash.push(hash);
    }
  }
  if (probes.hash.length === 0) return { hits: [] as Hit[], own: new Map<string, Hit>(), uploads };
  const { rows } = await client.query<Hit>({
    name: 'match-query-probes',
    text: `SELECT p.state, p.upload_id, t.lds_hash, t.participant_id, t.case_id
             FROM unnest($1::text[], $2::text[], $3::bytea[]) AS p(state, upload_id, lds_hash)
             JOIN bulkflow.participants t
               ON t.upload_id = p.upload_id AND t.lds_key = bulkflow.lds_key(p.lds_hash) AND t.lds_hash = p.lds_hash`,
    values: [probes.state, probes.upload, probes.hash],
  });
  const lowest = new Map<string, Hit>();
  for (const row of rows) {
    const key = `${row.state}:${row.lds_hash.toString('hex')}`;
    const kept = lowest.get(key);
    if (!kept || row.participant_id < kept.participant_id) lowest.set(key, row);
  }
  const found = [...lowest.values()].sort((x, y) => (x.state < y.state ? -1 : x.state > y.state ? 1 : 0));
  const own = new Map(found.filter((row) => row.state === asking).map((row) => [row.lds_hash.toString('hex'), row]));
  return { hits: found.filter((row) => row.state !== asking), own, uploads };
}

/** One `matches.updated` per other state whose records with the asking state this query created or opened again. */
async function announce(client: pg.PoolClient, queryId: string, asking: string, records: Array<{ other_state: string; match_id: string; created: boolean }>) {
  const opened = new Map<string, string[]>();
  for (const record of records) if (record.created) opened.set(record.other_state, [...(opened.get(record.other_state) ?? []), record.match_id]);
  await writeQueryMatchesEvents(client, [...opened].map(([state, matchIds]) => (
    { state, initiator: 'query', queryId, queryState: asking, new: matchIds.length, matchIds: matchIds.sort() }
  )));
}

async function sameUploads(client: pg.PoolClient, before: Map<string, string>): Promise<boolean> {
  const { rows } = await client.query<{ state: string; upload_id: string }>('SELECT state, upload_id FROM bulkflow.active_uploads');
  return rows.length === before.size && rows.every((row) => before.get(row.state) === row.upload_id);
}
