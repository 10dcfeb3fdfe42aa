import { z } from 'zod';
import {
  dispositionPatchSchema, FINAL_DISPOSITIONS, INITIAL_ACTIONS, INVALID_MATCH_REASONS, matchQuerySchema, MAX_FREE_TEXT, REOPEN_REASONS,
} from '../engine/index.js';

/**
 * The bodies of the match routes, as the OpenAPI document declares them and the handlers send them (httpEncoders.ts
 * `json` takes the schema). The disposition codes are the engine's own lists.
 */

const time = z.iso.datetime();
const matchStatus = z.enum(['open', 'closed']);
const date = z.iso.date();
const matchId = z.string().meta({ example: 'q3U2nS0xTzW4pY7a' });

/** One side's disposition (README "Match resolution"); an absent field has not been recorded. */
export const disposition = z
  .object({
    initial_action_taken: z.enum(INITIAL_ACTIONS).optional(),
    initial_action_at: date.optional(),
    invalid_match: z.boolean().optional(),
    invalid_match_reason: z.enum(INVALID_MATCH_REASONS).optional(),
    other_reasoning_for_invalid_match: z.string().max(MAX_FREE_TEXT).optional(),
    final_disposition: z.enum(FINAL_DISPOSITIONS).optional(),
    final_disposition_date: date.optional(),
    vulnerable_individual: z.boolean().optional(),
  })
  .meta({ id: 'Disposition' });

/** PATCH …/dispositions/{state}: a JSON merge patch of the side's disposition (null clears a field), the engine's rules. */
export const dispositionPatch = dispositionPatchSchema(() => new Date())
  .meta({ id: 'DispositionPatch', example: { initial_action_taken: 'notice_sent', initial_action_at: '2026-12-01' } });

const participant = z.object({ participantId: z.string().nullable(), caseId: z.string().nullable() });

/** A match record as one of its two states sees it. */
export const matchView = z
  .object({
    matchId,
    status: matchStatus,
    state: z.string().meta({ description: 'The caller\'s state: `participant` and `disposition` are its side.', example: 'CA' }),
    otherState: z.string().meta({ example: 'TX' }),
    initiatingState: z.string(),
    initiator: z.enum(['bulk', 'query']),
    participant: participant.extend({ uploadId: z.string().nullable() }),
    otherParticipant: participant,
    disposition,
    otherDisposition: disposition,
    version: z.number().int().min(0).meta({ description: 'Changes so far; the record\'s ETag is this number, quoted.' }),
    createdAt: time,
    openedAt: time,
    updatedAt: time,
    closedAt: time.nullable(),
    closedReason: z.enum(['upload', 'final_dispositions', 'invalid_match']).nullable(),
    closedByState: z.string().nullable(),
  })
  .meta({ id: 'Match' });

export const matchPage = z
  .object({
    state: z.string(),
    status: z.enum(['open', 'closed', 'needs-action']),
    matches: z.array(matchView),
    next: z.string().nullable().meta({ description: 'The cursor for `after`; null on the last page.' }),
  })
  .meta({ id: 'MatchPage' });

export const matchPairList = z
  .object({
    pairs: z.array(z.object({ stateA: z.string(), stateB: z.string(), open: z.number().int().min(0), closed: z.number().int().min(0) })),
  })
  .meta({ id: 'MatchPairs', description: 'Open and closed records per state pair: counts only.' });

const reopenReason = `reason must be one of ${REOPEN_REASONS.join(', ')}`;
export const reopenRequest = z.object({ reason: z.enum(REOPEN_REASONS, { error: reopenReason }) }, { error: reopenReason }).meta({ id: 'ReopenRequest' });
export const reopened = z.object({ matchId, status: z.literal('open'), version: z.number().int().min(0) }).meta({ id: 'Reopened' });

/** POST …/match-queries: the applicants to check, validated by the upload's own column rules. */
export const matchQueryRequest = matchQuerySchema.meta({ id: 'MatchQuery' });

export const matchQueryAnswer = z
  .object({
    state: z.string(),
    data: z.object({
      results: z.array(z.object({
        index: z.number().int().min(0).meta({ description: 'The person\'s position in the query.' }),
        matches: z.array(z.object({
          matchId,
          otherState: z.string(),
          otherParticipant: z.object({ participantId: z.string(), caseId: z.string().nullable() }),
          status: matchStatus,
          created: z.boolean().meta({ description: 'This query created the record (or opened it again).' }),
        })),
      })),
    }),
  })
  .meta({ id: 'MatchQueryAnswer' });
