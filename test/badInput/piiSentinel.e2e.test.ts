import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { allRowErrors, CSV_HEADER, finalStatus, FULL_HEADER, hashOf, putBlob, validRows } from '../support/uploads.js';

/**
 * Row values are personal data: bad rows carry a marker in every field, and after the uploads no log line,
 * API response, event, durable state or table (other than the participants table) may contain it.
 */

const MARKER = 'ZqxSentinel';
const m = (n: number) => `${MARKER}${n}`;
/** Every field of a 6-column row carries the marker (the row breaks several rules at once). */
const markedRow = (n: number) => Array.from({ length: 6 }, (_, k) => m(n * 10 + k)).join(',');
const goodRow = (i: number) => `${hashOf(i)},C${i},P${i},,,`;

function rowLevelFile(): string {
  const lines = [FULL_HEADER];
  for (let i = 0; i < 400; i++) {
    lines.push(goodRow(i));
    if (i % 100 === 50) lines.push(markedRow(i));
  }
  lines.push(`${m(1)},${m(2)},P9001,,,`); // lds_hash bad, case_id and participant_id are markers
  lines.push(`${hashOf(9002)},${m(3).repeat(3)},P9002,,,`); // case_id too long
  lines.push(`${hashOf(9003)},C9003,P9003,,,,${m(4)}`); // one field too many
  lines.push(`${hashOf(9004)},${m(5)},P10,2024-02-30,${m(6)}/${m(7)},${m(8)}`); // several rules
  lines.push(`${hashOf(9005)},${m(9)},P11,,,`); // duplicate participant_id, case_id a marker
  lines.push(`${hashOf(9007)},${m(13)},P9007,,,`); // valid: the marker is stored in the participants table only
  lines.push(`${hashOf(9006)},"${m(10)}, ""${m(11)}""\n${m(12)}",P9006,,,`); // quoted marker over two lines
  return `${lines.join('\n')}\n`;
}

/**
 * Another state whose valid rows share hashes with NM's: one with NM's marked row (this side's ids are markers too),
 * ten with NM's plain rows. Match records hold both sides' ids by design; their events and logs must not.
 */
function matchingFile(): string {
  const lines = [FULL_HEADER, `${hashOf(9007)},${m(60)},${m(61)},,,`];
  for (let i = 0; i < 10; i++) lines.push(`${hashOf(i)},C${i},${m(70 + i)},,,`);
  return `${lines.join('\n')}\n`;
}

const WHOLE_FILE_FAILURES: Array<[string, () => Buffer]> = [
  ['no_header', () => Buffer.from(`${markedRow(1)}\n${markedRow(2)}\n`)],
  ['unterminated_quote', () => Buffer.from(`${CSV_HEADER}\n${validRows(0, 3)}"${m(20)},${m(21)},${m(22)}\n`)],
  ['invalid_utf8', () => Buffer.concat([Buffer.from(`${CSV_HEADER}\n${validRows(0, 3)}${m(30)},${m(31)},`), Buffer.from([0xc3, 0x28]), Buffer.from(`${m(32)}\n`)])],
  ['nul_byte', () => Buffer.from(`${CSV_HEADER}\n${validRows(0, 3)}${m(40)},${m(41)}\u0000,${m(42)}\n`)],
  ['line_too_long', () => Buffer.from(`${CSV_HEADER}\n${validRows(0, 3)}${m(50)},${m(51).repeat(150_000)},x\n`)],
  ['too_many_rejected', () => Buffer.from(`${FULL_HEADER}\n${Array.from({ length: 20 }, (_, i) => markedRow(100 + i)).join('\n')}\n`)],
];

describe('no row value leaves the participants table', () => {
  let t: TestStack;
  const logLines: string[] = [];
  const responses: string[] = [];
  const statuses: UploadStatusBody[] = [];
  /** What NM and SC read of their match records: ids by design, so kept apart from `responses`. */
  const matchResponses: string[] = [];
  const restore: Array<() => void> = [];

  /** GET through the APIs, keeping every body for the search. */
  const get = async <T>(path: string): Promise<T> => {
    const response = await t.api(path);
    const body = await response.text();
    responses.push(body);
    return JSON.parse(body) as T;
  };

  beforeAll(async () => {
    // Anything written to this process's stdout/stderr too (the host runs in it), besides the host log.
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        logLines.push(String(chunk));
        return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restore.push(() => { stream.write = write; });
    }
    t = await startTestStack({ INGEST_CHUNK_BYTES: String(16 * 1024) }, { logLevel: 'trace', log: (line) => logLines.push(line) });

    await putBlob(t, 'nm/rows.csv', rowLevelFile());
    statuses.push(await finalStatus(t, 'nm/rows.csv'));
    for (const [code, content] of WHOLE_FILE_FAILURES) await putBlob(t, `nd/${code}.csv`, content());
    for (const [code] of WHOLE_FILE_FAILURES) statuses.push(await finalStatus(t, `nd/${code}.csv`));
    await putBlob(t, 'sc/matching.csv', matchingFile());
    statuses.push(await finalStatus(t, 'sc/matching.csv'));
    // Its match run is done and every event (its announcements too) has left the outbox.
    await waitFor('the match run of SC and every event sent', async () => {
      const { rows } = await t.pool.query<{ runs: number; pending: number }>(
        `SELECT (SELECT count(*) FROM bulkflow.match_runs WHERE state = 'SC')::int AS runs,
                (SELECT count(*) FROM bulkflow.outbox WHERE published_at IS NULL)::int AS pending`,
      );
      return rows[0]!.runs === 1 && rows[0]!.pending === 0 ? true : undefined;
    });

    // Read everything a user or operator can read about these uploads.
    for (const status of statuses) {
      await get(status.links.self);
      await get(`/api/uploads?blob=${encodeURIComponent(status.blobName)}`);
      responses.push(JSON.stringify(await allRowErrors(t, status)));
      await waitFor(`${status.instanceId} to end`, async () => {
        const body = await get<{ runtimeStatus: string }>(`/runtime/webhooks/durabletask/instances/${status.instanceId}?showHistory=true&showHistoryOutput=true&showInput=true`);
        return ['Running', 'Pending'].includes(body.runtimeStatus) ? undefined : body;
      });
    }
    await get('/api/states/nm/uploads');
    await get('/api/states/nd/uploads');
    await get('/runtime/webhooks/durabletask/instances?showInput=true');
    // The match API: the operator's counts per pair go with every other response; the two states' records apart.
    await get('/api/matches');
    for (const state of ['NM', 'SC']) {
      const token = await t.token({ states: [state] });
      const list = await t.api(`/api/states/${state}/matches?limit=1000`, { token });
      const body = await list.text();
      matchResponses.push(body);
      const { matches } = JSON.parse(body) as { matches: Array<{ matchId: string }> };
      for (const { matchId } of matches) matchResponses.push(await (await t.api(`/api/matches/${matchId}`, { token })).text());
      responses.push(await (await t.api('/api/matches', { token })).text());
    }
  }, 300_000);

  afterAll(async () => {
    for (const undo of restore) undo();
    await t?.stop();
  });

  it('processed the marked files as expected', () => {
    const [rows, ...others] = statuses;
    const failed = others.slice(0, WHOLE_FILE_FAILURES.length);
    // 4 marked rows + 6 special bad rows (with the duplicate) rejected; 400 good rows + the valid marked one.
    expect(rows).toMatchObject({ status: 'complete', rowsCommitted: 401, rowsRejected: 10 });
    expect(failed.map((s) => [s.status, s.error?.code])).toEqual(WHOLE_FILE_FAILURES.map(([code]) => ['failed', code]));
    expect(others.at(-1)).toMatchObject({ status: 'complete', rowsCommitted: 11, rowsRejected: 0 });
    expect(logLines.length).toBeGreaterThan(20);
  });

  const hits = (texts: string[]) => texts.filter((text) => text.toLowerCase().includes(MARKER.toLowerCase()));

  it('logs no row value', () => {
    expect(hits(logLines)).toEqual([]);
  });

  it('answers no row value through the APIs', () => {
    expect(responses.length).toBeGreaterThan(20);
    expect(hits(responses)).toEqual([]);
  });

  it('keeps no row value in any table but the participants partitions and the match records (durable state, outbox, errors, runs)', async () => {
    const { rows: tables } = await t.pool.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
          AND NOT (c.oid IN ('bulkflow.participants'::regclass, 'bulkflow.matches'::regclass)
                   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'bulkflow.participants'::regclass))`,
    );
    const names = tables.map((table) => table.name);
    expect(names).toEqual(expect.arrayContaining(['bulkflow.uploads', 'bulkflow.row_errors', 'bulkflow.outbox', 'bulkflow.match_runs']));
    expect(names.some((name) => name.startsWith('durable_'))).toBe(true);
    const hex = Buffer.from(MARKER.toLowerCase()).toString('hex');
    const found: string[] = [];
    for (const name of names) {
      const { rows } = await t.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${name} t WHERE lower(t::text) LIKE $1 OR lower(t::text) LIKE $2`,
        [`%${MARKER.toLowerCase()}%`, `%${hex}%`],
      );
      if (rows[0]!.n > 0) found.push(`${name}: ${rows[0]!.n}`);
    }
    expect(found).toEqual([]);
    // The same search does find the one valid marked row where it belongs.
    const participants = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bulkflow.participants t WHERE lower(t::text) LIKE $1`, [`%${MARKER.toLowerCase()}%`]);
    expect(participants.rows[0]!.n).toBe(1 + 11);
    // And in the match records, which hold both sides' ids: NM's marked case id beside SC's marked ids.
    const { rows: records } = await t.pool.query<{ state_a: string; state_b: string; a_case_id: string; b_participant_id: string }>(
      `SELECT state_a, state_b, a_case_id, b_participant_id FROM bulkflow.matches WHERE closed_at IS NULL ORDER BY b_participant_id`);
    expect(records).toHaveLength(11);
    expect(records[0]).toEqual({ state_a: 'NM', state_b: 'SC', a_case_id: m(13), b_participant_id: m(61) });
  });

  /** Every event as stored: the outbox rows and the Event Hubs endpoint's log files. */
  async function events(): Promise<{ outbox: string[]; hub: string[] }> {
    const outbox = await t.pool.query<{ body: string }>('SELECT o::text AS body FROM bulkflow.outbox o');
    const dir = join(t.stack.dataDir, 'eventhubs');
    const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    return { outbox: outbox.rows.map((r) => r.body), hub: await Promise.all(files.map((f) => readFile(join(f.parentPath, f.name), 'latin1'))) };
  }

  it('publishes no row value in events, match announcements among them (outbox and the Event Hubs endpoint\'s log)', async () => {
    const { outbox, hub } = await events();
    expect(outbox.length).toBeGreaterThan(0);
    expect(hub.length).toBeGreaterThan(0);
    const announced = await t.pool.query<{ data: { state: string; new: number } }>(`SELECT data FROM bulkflow.outbox WHERE type = 'gov.bulkflow.matches.updated'`);
    expect(announced.rows.map((r) => r.data).filter((d) => d.new > 0).map((d) => [d.state, d.new]).sort()).toEqual([['NM', 11], ['SC', 11]]);
    expect(hits(outbox)).toEqual([]);
    expect(hits(hub)).toEqual([]);
  });

  it('gives the match records\' ids to their two states only, and no matched hash to anyone: API, logs or events', async () => {
    // NM's view of the record of its valid marked row holds SC's marked ids beside its own marked case id.
    const [saList, ...rest] = matchResponses;
    const sa = JSON.parse(saList!) as { matches: Array<{ participant: { caseId: string }; otherParticipant: { participantId: string; caseId: string } }> };
    expect(sa.matches).toHaveLength(11);
    expect(sa.matches.filter((r) => r.participant.caseId === m(13)).map((r) => r.otherParticipant)).toEqual([{ participantId: m(61), caseId: m(60) }]);
    expect(rest).toHaveLength(11 + 1 + 11);
    expect(hits(rest).length).toBeGreaterThan(0);
    // The hashes the two states share (NM's valid marked row's among them) appear in no answer, log line or event.
    const matched = [9007, ...Array.from({ length: 9 }, (_, i) => i + 1)].map(hashOf);
    const { outbox, hub } = await events();
    for (const [where, texts] of Object.entries({ matchResponses, responses, logLines, outbox, hub })) {
      expect(texts.filter((text) => matched.some((hash) => text.toLowerCase().includes(hash))), where).toEqual([]);
      expect(texts.filter((text) => /[0-9a-f]{128}/i.test(text)), where).toEqual([]);
    }
  });
});
