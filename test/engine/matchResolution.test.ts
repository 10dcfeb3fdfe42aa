import { describe, expect, it } from 'vitest';
import { runMatchAnalysis } from '../../src/engine/matchAnalysis.js';
import { dispositionPatchSchema, foldDispositions, type DispositionPatch } from '../../src/engine/matchDispositions.js';
import { getMatch, listNeedsAction, listStateMatches } from '../../src/engine/matchReads.js';
import { runMatchQuery } from '../../src/engine/matchQuery.js';
import { recordEvents, reopenMatch, updateDisposition, type Actor } from '../../src/engine/matchResolution.js';
import { ingest, useEngineDatabase } from '../support/engineDatabase.js';
import { CSV_HEADER, hashOf } from '../support/uploads.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const file = (state: string, hashes: number[]) => `${CSV_HEADER}\n${hashes.map((n) => `${hashOf(n)},${state}${n},C${state}${n}`).join('\n')}\n`;
const caseworker = (state: string): Actor => ({ callerId: `worker-${state.toUpperCase()}`, clientId: 'dashboard' });
const TODAY = new Date().toISOString().slice(0, 10);

describe('match resolution and real-time queries', () => {
  const engine = useEngineDatabase();
  let etag = 0;

  async function activate(state: string, hashes: number[]) {
    const { uploadId } = await ingest(engine.pool, file(state, hashes), { state, source: `${state.toLowerCase()}/p.csv`, etag: String(++etag) });
    await runMatchAnalysis(engine.pool, `${uploadId}.completed`, uploadId);
    return uploadId;
  }

  async function dispositionEvents(matchId: string) {
    const { rows } = await engine.pool.query<{ subject: string; data: Record<string, unknown> }>(
      `SELECT subject, data FROM bulkflow.outbox WHERE type = 'gov.bulkflow.matches.dispositionUpdated' AND data->>'matchId' = $1 ORDER BY seq`,
      [matchId],
    );
    return rows;
  }

  async function queryEvents(queryId: string) {
    const { rows } = await engine.pool.query<{ id: string; subject: string; data: Record<string, unknown> }>(
      `SELECT id, subject, data FROM bulkflow.outbox WHERE type = 'gov.bulkflow.matches.updated' AND data->>'queryId' = $1 ORDER BY id`,
      [queryId],
    );
    return rows;
  }

  const change = (matchId: string, state: string, ifMatch: number, patch: DispositionPatch) =>
    updateDisposition(engine.pool, { matchId, state, actor: caseworker(state), ifMatch, patch });

  describe('dispositions', () => {
    let matchId: string;
    it('lets each of the two states record its own side, as events whose fold is the record\'s view', async () => {
      await activate('DA', range(0, 10));
      await activate('DB', range(5, 15));
      const [record] = (await listStateMatches(engine.pool, 'DA', { status: 'open', limit: 1 })).matches;
      matchId = record!.matchId;
      expect(record).toMatchObject({ version: 0, disposition: {}, otherDisposition: {}, initiator: 'bulk', closedReason: null });

      const first = await change(matchId, 'DA', 0, { initial_action_taken: 'notice_sent', initial_action_at: TODAY, vulnerable_individual: true });
      expect(first).toMatchObject({ ok: true, changed: true, view: { version: 1, disposition: { initial_action_taken: 'notice_sent', initial_action_at: TODAY, vulnerable_individual: true } } });
      const second = await change(matchId, 'db', 1, { initial_action_taken: 'client_provided_required_verification', initial_action_at: TODAY });
      expect(second).toMatchObject({ ok: true, view: { version: 2, state: 'DB', otherDisposition: { initial_action_taken: 'notice_sent' } } });
      const cleared = await change(matchId, 'DA', 2, { vulnerable_individual: null });
      expect(cleared).toMatchObject({ ok: true, view: { version: 3, status: 'open' } });

      const events = await recordEvents(engine.pool, matchId);
      expect(events.map((e) => [e.version, e.state, Object.keys(e.changes).sort()])).toEqual([
        [1, 'DA', ['initial_action_at', 'initial_action_taken', 'vulnerable_individual']],
        [2, 'DB', ['initial_action_at', 'initial_action_taken']],
        [3, 'DA', ['vulnerable_individual']],
      ]);
      const { rows: [actor] } = await engine.pool.query('SELECT actor, client_id FROM bulkflow.match_events WHERE match_id = $1 AND version = 2', [matchId]);
      expect(actor).toEqual({ actor: 'worker-DB', client_id: 'dashboard' });
      const view = (await getMatch(engine.pool, matchId, 'DA'))!;
      const fold = foldDispositions(events);
      expect(view.disposition).toEqual(fold.get('DA'));
      expect(view.otherDisposition).toEqual(fold.get('DB'));
      expect(view.disposition).toEqual({ initial_action_taken: 'notice_sent', initial_action_at: TODAY });
    });

    it('notifies the other state once per change, with ids and field names only', async () => {
      const events = await dispositionEvents(matchId);
      expect(events.map((e) => [e.subject, e.data.state, e.data.changedBy, e.data.version, e.data.fields])).toEqual([
        [`states/DB/matches/${matchId}`, 'DB', 'DA', 1, ['initial_action_taken', 'initial_action_at', 'vulnerable_individual']],
        [`states/DA/matches/${matchId}`, 'DA', 'DB', 2, ['initial_action_taken', 'initial_action_at']],
        [`states/DB/matches/${matchId}`, 'DB', 'DA', 3, ['vulnerable_individual']],
      ]);
      expect(JSON.stringify(events)).not.toMatch(/notice_sent|client_provided|\d{4}-\d{2}-\d{2}/);
      // A change that changes nothing is no event.
      expect(await change(matchId, 'DA', 3, { initial_action_taken: 'notice_sent' })).toMatchObject({ ok: true, changed: false, view: { version: 3 } });
      expect(await dispositionEvents(matchId)).toHaveLength(3);
    });

    it('refuses a stale version, a third state, and invalid fields, changing nothing', async () => {
      expect(await change(matchId, 'DA', 2, { vulnerable_individual: false })).toEqual({ ok: false, reason: 'stale', version: 3 });
      expect(await change(matchId, 'DC', 3, { vulnerable_individual: false })).toEqual({ ok: false, reason: 'not_found' });
      expect(await change('AAAAAAAAAAAAAAAA', 'DA', 0, { vulnerable_individual: false })).toEqual({ ok: false, reason: 'not_found' });
      expect(await change(matchId, 'DA', 3, { final_disposition: 'benefits_denied', final_disposition_date: '2000-01-01' })).toEqual({
        ok: false, reason: 'invalid', errors: [{ field: 'final_disposition_date', message: 'must not be before initial_action_at' }],
      });
      expect(await change(matchId, 'DA', 3, { invalid_match: true })).toMatchObject({ ok: false, reason: 'invalid', errors: [{ field: 'invalid_match_reason' }] });
      expect(await change(matchId, 'DA', 3, { initial_action_at: null })).toMatchObject({ ok: false, errors: [{ field: 'initial_action_at', message: 'is required with initial_action_taken' }] });
      expect((await getMatch(engine.pool, matchId, 'DA'))!.version).toBe(3);
      expect(await dispositionEvents(matchId)).toHaveLength(3);
    });

    it('closes on both final dispositions; a closed record takes no change until an operator reopens it', async () => {
      const a = await change(matchId, 'DA', 3, { final_disposition: 'benefits_approved', final_disposition_date: TODAY });
      expect(a).toMatchObject({ ok: true, view: { status: 'open' } });
      const b = await change(matchId, 'DB', 4, { final_disposition: 'benefits_denied', final_disposition_date: TODAY });
      expect(b).toMatchObject({ ok: true, view: { status: 'closed', closedReason: 'final_dispositions', version: 5 } });
      expect((await dispositionEvents(matchId)).at(-1)!.data).toMatchObject({ state: 'DA', status: 'closed', version: 5 });
      expect(await change(matchId, 'DA', 5, { vulnerable_individual: true })).toEqual({ ok: false, reason: 'closed' });

      // A later match run of either state keeps it closed, though both uploads still hold the hash.
      const reupload = await activate('DA', range(0, 10));
      expect((await getMatch(engine.pool, matchId, 'DB'))!).toMatchObject({ status: 'closed', closedReason: 'final_dispositions' });
      const { rows: [run] } = await engine.pool.query(`SELECT results FROM bulkflow.match_runs WHERE upload_id = $1`, [reupload]);
      expect(run.results).toEqual([{ state: 'DB', matches: 4, new: 0, closed: 0 }]);

      const operator: Actor = { callerId: 'operator-1', clientId: 'console' };
      expect(await reopenMatch(engine.pool, { matchId, actor: operator, ifMatch: 4, reason: 'state_request' })).toEqual({ ok: false, reason: 'stale', version: 5 });
      expect(await reopenMatch(engine.pool, { matchId, actor: operator, ifMatch: 5, reason: 'state_request' })).toEqual({ ok: true, matchId, status: 'open', version: 6 });
      expect((await dispositionEvents(matchId)).slice(-2).map((e) => [e.data.state, e.data.changedBy, e.data.fields])).toEqual([['DA', null, []], ['DB', null, []]]);
      expect(await change(matchId, 'DB', 6, { final_disposition: null, final_disposition_date: null })).toMatchObject({ ok: true, view: { status: 'open', version: 7 } });
      expect(await reopenMatch(engine.pool, { matchId, actor: operator, ifMatch: 7, reason: 'state_request' })).toEqual({ ok: false, reason: 'not_closed_by_states' });
    });

    it('closes when one state marks the match invalid', async () => {
      const [, other] = (await listStateMatches(engine.pool, 'DB', { status: 'open', limit: 2 })).matches;
      const invalid = await change(other!.matchId, 'DB', 0, { invalid_match: true, invalid_match_reason: 'other', other_reasoning_for_invalid_match: 'twins' });
      expect(invalid).toMatchObject({ ok: true, view: { status: 'closed', closedReason: 'invalid_match', disposition: { other_reasoning_for_invalid_match: 'twins' } } });
    });

    it('lists the open records whose own side has no initial action after N days', async () => {
      await engine.pool.query(`UPDATE bulkflow.matches SET opened_at = now() - interval '8 days' WHERE state_a = 'DA'`);
      const da = await listNeedsAction(engine.pool, 'DA', { days: 7, limit: 100 });
      const db = await listNeedsAction(engine.pool, 'DB', { days: 7, limit: 100 });
      // 5 records; one closed invalid; DA and DB both acted on the first.
      expect(da.matches).toHaveLength(3);
      expect(db.matches).toHaveLength(3);
      expect(da.matches.every((m) => m.status === 'open' && m.disposition.initial_action_at === undefined)).toBe(true);
      expect(await listNeedsAction(engine.pool, 'DA', { days: 9, limit: 100 })).toEqual({ matches: [], next: null });
    });
  });

  describe('patch parsing', () => {
    const now = new Date('2026-03-10T12:00:00Z');
    /** Each issue of a body as the edge reports it: where, and the message (jsonBody.ts). */
    const issuesOf = (body: unknown) => dispositionPatchSchema(() => now).safeParse(body).error?.issues.map((issue) => [issue.path.join('.'), issue.message]) ?? [];
    it('checks every field and names the field, never its value', () => {
      const issues = issuesOf({
        initial_action_taken: 'phoned', initial_action_at: '2026-03-12', invalid_match: 'yes', final_disposition_date: '2026-02-30',
        other_reasoning_for_invalid_match: 'x'.repeat(501), secret_field: 1,
      });
      expect(issues).toEqual([
        ['initial_action_taken', 'initial_action_taken must be one of notice_sent, client_provided_required_verification'],
        ['initial_action_at', 'initial_action_at must not be in the future'],
        ['invalid_match', 'invalid_match must be true or false'],
        ['other_reasoning_for_invalid_match', 'other_reasoning_for_invalid_match must be at most 500 characters'],
        ['final_disposition_date', 'final_disposition_date is not a real calendar date'],
        ['', expect.stringMatching(/^unknown field/)],
      ]);
      expect(JSON.stringify(issues)).not.toMatch(/phoned|secret_field|2026-03-12/);
      // Today somewhere on Earth (UTC+14) is not the future.
      expect(issuesOf({ initial_action_at: '2026-03-11' })).toEqual([]);
      expect(issuesOf({ other_reasoning_for_invalid_match: 'line\nbreak' })[0]![1]).toMatch(/control characters/);
      expect(issuesOf({})).toEqual([['', 'the body changes no field']]);
      expect(issuesOf([])[0]![1]).toMatch(/JSON object/);
      // null clears a field.
      expect(dispositionPatchSchema(() => now).parse({ invalid_match: null, initial_action_taken: 'notice_sent' })).toEqual({ invalid_match: null, initial_action_taken: 'notice_sent' });
    });
  });

  describe('real-time query', () => {
    it('finds other states\' active uploads only, and creates one record per pair that a later bulk analysis keeps', async () => {
      await activate('QA', [5001, 5002]);
      await activate('QB', range(5100, 5110));
      await activate('QC', range(5105, 5115));
      // A partial upload of QD holds 107 too: never answered from.
      await ingest(engine.pool, file('QD', [5107]), { state: 'QD', source: 'qd/p.csv', etag: String(++etag), skipActivation: true });

      const answer = await runMatchQuery(engine.pool, 'QA', [
        { ldsHash: hashOf(5107), participantId: 'APPLICANT1', caseId: 'CASE1' }, { ldsHash: hashOf(5101) }, { ldsHash: hashOf(5001) }, { ldsHash: hashOf(5999) },
      ], 'query-1');
      expect(answer.hits).toBe(3);
      expect(answer.results.map((r) => r.matches.map((m) => [m.otherState, m.otherParticipant.participantId, m.status, m.created]))).toEqual([
        [['QB', 'QB5107', 'open', true], ['QC', 'QC5107', 'open', true]],
        [['QB', 'QB5101', 'open', true]],
        [], // only QA holds 5001
        [],
      ]);
      const [qb, qc] = answer.results[0]!.matches;
      expect(await getMatch(engine.pool, qb!.matchId, 'QA')).toMatchObject({
        initiator: 'query', initiatingState: 'QA', participant: { participantId: 'APPLICANT1', caseId: 'CASE1', uploadId: null },
        otherParticipant: { participantId: 'QB5107', caseId: 'CQB5107' },
      });
      expect(await getMatch(engine.pool, qc!.matchId, 'QC')).toMatchObject({ otherParticipant: { participantId: 'APPLICANT1' } });

      // Asked again: the same records, reused.
      // Each other state is told of the records the query opened with it, as a match run tells it: ids and counts.
      const announced = await queryEvents('query-1');
      expect(announced).toEqual([
        { id: 'query-1.matches.QB', subject: 'states/QB/matches', data: { state: 'QB', initiator: 'query', queryId: 'query-1', queryState: 'QA', new: 2, matchIds: [qb!.matchId, answer.results[1]!.matches[0]!.matchId].sort() } },
        { id: 'query-1.matches.QC', subject: 'states/QC/matches', data: { state: 'QC', initiator: 'query', queryId: 'query-1', queryState: 'QA', new: 1, matchIds: [qc!.matchId] } },
      ]);

      const again = await runMatchQuery(engine.pool, 'QA', [{ ldsHash: hashOf(5107) }], 'query-2');
      expect(again.results[0]!.matches.map((m) => [m.matchId, m.created])).toEqual([[qb!.matchId, false], [qc!.matchId, false]]);
      expect(await queryEvents('query-2')).toEqual([]); // nothing opened: nothing to tell

      // QA's next upload does not hold 5101 (an applicant not enrolled): the query's record stays open.
      await activate('QA', [5001, 5002, 5003]);
      const held101 = answer.results[1]!.matches[0]!.matchId;
      expect(await getMatch(engine.pool, held101, 'QA')).toMatchObject({ status: 'open', participant: { participantId: null, uploadId: null } });

      // The applicant is enrolled: QA's bulk analysis finds the same records and keeps them, now with QA's upload row.
      const qaUpload = await activate('QA', [5001, 5002, 5107]);
      for (const match of [qb!, qc!]) {
        expect(await getMatch(engine.pool, match.matchId, 'QA')).toMatchObject({
          status: 'open', initiator: 'query', participant: { participantId: 'QA5107', caseId: 'CQA5107', uploadId: qaUpload },
        });
      }
      const { rows } = await engine.pool.query(`SELECT count(*)::int AS n FROM bulkflow.matches WHERE lds_hash = $1`, [Buffer.from(hashOf(5107), 'hex')]);
      expect(rows[0].n).toBe(3); // QA-QB, QA-QC (the query's) and QB-QC (bulk)
      const { rows: [run] } = await engine.pool.query(`SELECT results FROM bulkflow.match_runs WHERE upload_id = $1`, [qaUpload]);
      expect(run.results).toEqual([{ state: 'QB', matches: 1, new: 0, closed: 0 }, { state: 'QC', matches: 1, new: 0, closed: 0 }]);

      // The asking state's own upload row stands for it when it holds the hash.
      const own = await runMatchQuery(engine.pool, 'QC', [{ ldsHash: hashOf(5107), participantId: 'IGNORED' }], 'query-3');
      expect(own.results[0]!.matches.map((m) => [m.otherState, m.otherParticipant.participantId, m.created])).toEqual([
        ['QA', 'QA5107', false], ['QB', 'QB5107', false],
      ]);
    });
  });
});
