import { createHash } from 'node:crypto';
import { uploadTable } from '../src/engine/db.js';
import { ensureKeyFilter } from '../src/engine/keyFilter.js';
import { runMatchQuery, type QueryPerson } from '../src/engine/matchQuery.js';
import { createBenchDatabase } from './database.js';
import { load } from './matches.js';
import { load1, percentile } from './stats.js';

export interface QueryPhaseOptions {
  serverUrl: string;
  /** Active rows in all, spread evenly over `states` states. */
  rows: number;
  states: number;
  /** Queries measured (after as many warm-up queries as a tenth of them). */
  queries: number;
  /** Persons per query, and how many of them other states hold. */
  persons: number;
  hitsPerQuery: number;
  dir: string;
  concurrency: number;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface QueryPhase {
  /** The query as the API runs it (records created or reused, one transaction), in ms. */
  query: Percentiles;
  /** The bare lookup of the same hashes in every active upload's lookup index (lds_key: one probe per hash and upload), in ms. */
  lookup: Percentiles;
  hits: number;
  /** Activation's added cost: building one upload's key filter again (`rows / states` keys), in ms. */
  filterMs: number;
  setupSeconds: number;
  load: number;
}

const lds = (text: string) => createHash('sha512').update(text).digest('hex');
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const percentiles = (values: number[]): Percentiles => ({ p50: percentile(values, 0.5), p95: percentile(values, 0.95), p99: percentile(values, 0.99) });

/**
 * `npm run bench` query phase: `rows` active rows over `states` states (loaded through the engine), then real-time
 * queries of `persons` hashes by the first state, `hitsPerQuery` of them held by another state (a different one each
 * time, new hashes each query, so every query creates its records), the rest held by no one. Each query is timed
 * beside the bare index lookup of the same hashes in every active upload (what the query did before key filters:
 * one probe per hash and state), alternating. Also times rebuilding one upload's key filter: what it adds to activation.
 */
export async function measureQueries(options: QueryPhaseOptions): Promise<QueryPhase> {
  const { pool, drop } = await createBenchDatabase(options.serverUrl, 'bench_queries', options.concurrency + 2);
  try {
    const perState = Math.floor(options.rows / options.states);
    const states = Array.from({ length: options.states }, (_, k) => `${String.fromCharCode(65 + Math.floor(k / 26))}${String.fromCharCode(65 + (k % 26))}`);
    const setupStart = process.hrtime.bigint();
    const uploads: string[] = [];
    for (const state of states) uploads.push(await load(pool, { ...options, rows: perState }, state, (i) => lds(`${state}:${i}`)));
    await pool.query('VACUUM ANALYZE');
    const setupSeconds = Number(process.hrtime.bigint() - setupStart) / 1e9;
    await pool.query('DELETE FROM bulkflow.upload_key_filters WHERE upload_id = $1', [uploads[1]]);
    const filterStart = process.hrtime.bigint();
    await ensureKeyFilter(pool, uploads[1]!);
    const filterMs = ms(filterStart);

    const asking = states[0]!;
    const lookupSql = `SELECT count(*)::int AS n FROM (${uploads
      .map((uploadId) => `SELECT t.participant_id FROM ${uploadTable(uploadId).qualified} t
                        WHERE t.lds_key = ANY(ARRAY(SELECT bulkflow.lds_key(h) FROM unnest($1::bytea[]) h)) AND t.lds_hash = ANY($1::bytea[])`)
      .join(' UNION ALL ')}) hits`;
    const warmup = Math.ceil(options.queries / 10);
    const queryTimes: number[] = [];
    const lookupTimes: number[] = [];
    let hits = 0;
    const startLoad = load1();
    for (let q = 0; q < warmup + options.queries; q++) {
      const persons: QueryPerson[] = Array.from({ length: options.persons }, (_, p) => {
        if (p >= options.hitsPerQuery) return { ldsHash: lds(`nobody:${q}:${p}`) };
        const other = states[1 + ((q * options.hitsPerQuery + p) % (states.length - 1))]!;
        return { ldsHash: lds(`${other}:${(q * 7919 + p * 104729) % perState}`), participantId: `A${q}-${p}` };
      });
      const lookupStart = process.hrtime.bigint();
      // Prepared once, as the query's own statements are: planning its branches is not the lookup.
      const { rows } = await pool.query<{ n: number }>({ name: 'bare-lookup', text: lookupSql, values: [persons.map((person) => Buffer.from(person.ldsHash, 'hex'))] });
      const lookup = ms(lookupStart);
      const queryStart = process.hrtime.bigint();
      const answer = await runMatchQuery(pool, asking, persons, `bench-query-${q}`);
      const query = ms(queryStart);
      if (answer.hits !== options.hitsPerQuery || rows[0]!.n !== options.hitsPerQuery) {
        throw new Error(`query ${q}: expected ${options.hitsPerQuery} hits, the query found ${answer.hits} and the lookup ${rows[0]!.n}`);
      }
      if (q < warmup) continue;
      queryTimes.push(query);
      lookupTimes.push(lookup);
      hits += answer.hits;
    }
    return { query: percentiles(queryTimes), lookup: percentiles(lookupTimes), hits, filterMs, setupSeconds, load: (startLoad + load1()) / 2 };
  } finally {
    await drop();
  }
}

/** The phase's line in the bench's summary. */
export function formatQueryPhase(phase: QueryPhase, options: Pick<QueryPhaseOptions, 'rows' | 'states' | 'queries' | 'persons'>): string {
  const p = (x: Percentiles) => `p50 ${x.p50.toFixed(1)} / p95 ${x.p95.toFixed(1)} / p99 ${x.p99.toFixed(1)} ms`;
  return `${p(phase.query)}  (${options.queries} queries of ${options.persons} hashes, ${options.rows} active rows over ${options.states} states; ` +
    `bare index lookup of the same hashes in every active upload ${p(phase.lookup)}; an upload's key filter built in ${phase.filterMs.toFixed(0)} ms ` +
    `for ${Math.floor(options.rows / options.states)} keys; load ${phase.load.toFixed(2)}; set up in ${phase.setupSeconds.toFixed(0)} s)`;
}

