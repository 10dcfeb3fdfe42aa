import type { OrchestrationContext } from 'durable-functions';
import type { SessionCommitOutcome, SessionRef } from '../ingestContracts.js';
import { Dispatcher, failureReason, type Step } from './dispatcher.js';

/**
 * A resumable upload's commit, away from its HTTP request: verify the whole file and copy it to its name (one
 * activity, retried on crashes). When it still fails, the session goes back to its client, parts kept, to commit
 * again. Deterministic: the activities do the work.
 */
export function* uploadSessionCommitOrchestrator(context: OrchestrationContext): Step<SessionCommitOutcome> {
  const dispatch = new Dispatcher(context);
  const session = context.df.getInput<SessionRef>();
  try {
    return yield* dispatch.call('verifyUploadSession', session);
  } catch (error) {
    return yield* dispatch.call('reopenUploadSession', { ...session, reason: failureReason(error) });
  }
}
