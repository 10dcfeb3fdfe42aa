import type { InvocationContext } from '@azure/functions';
import type { AppClients } from '../composition.js';
import { findSession, finishSession, receivedParts, reopenSession } from '../engine/index.js';
import type { SessionCommitOutcome, SessionRef } from '../ingestContracts.js';
import { missingParts, verifyAndPublish } from '../functions/sessionPublish.js';
import { discardStaged, uploadSessionDeps } from '../functions/uploadSessions.js';

type Clients = Pick<AppClients, 'settings' | 'uploadStorage' | 'db'>;

/**
 * Verifies a session the commit route marked `verifying` and stores its file (sessionPublish.ts), then records the
 * outcome and deletes the staged bytes: they are personal data, and a refused file must be uploaded again anyway.
 * Run again after a crash, it finds where the first run got to. Throws while storage or the database refuse.
 */
export function makeVerifyUploadSessionActivity(clients: Clients) {
  const deps = uploadSessionDeps(clients);
  return async function verifyUploadSession(input: SessionRef, context: InvocationContext): Promise<SessionCommitOutcome> {
    const pool = await deps.db();
    const session = await findSession(pool, input.state, input.sessionId);
    if (!session) return { outcome: 'gone' };
    if (session.status === 'committed') return { outcome: 'committed', uploadId: session.uploadId! };
    if (session.status !== 'verifying') return { outcome: session.status };
    const parts = await receivedParts(pool, session.id);
    const missing = missingParts(session, parts);
    if (missing.length > 0) {
      await reopenSession(pool, session.id, { title: 'Parts missing', detail: `${missing.length} parts have not arrived yet: send them, then commit` });
      return { outcome: 'open' };
    }
    const outcome = await verifyAndPublish(deps, session, parts, context);
    await finishSession(pool, session.id, outcome);
    await discardStaged(deps, session, context);
    return 'uploadId' in outcome ? { outcome: 'committed', uploadId: outcome.uploadId } : { outcome: 'failed' };
  };
}

/** A commit that failed past its retries: the session is open again, its parts kept, and says why. */
export function makeReopenUploadSessionActivity(clients: Clients) {
  const deps = uploadSessionDeps(clients);
  return async function reopenUploadSession(input: SessionRef & { reason: string }, context: InvocationContext): Promise<SessionCommitOutcome> {
    context.warn(`upload session commit failed: session=${input.sessionId} state=${input.state.toUpperCase()} reason="${input.reason}"`);
    await reopenSession(await deps.db(), input.sessionId, {
      title: 'Commit failed',
      detail: 'the file could not be verified and stored this time; every part is still held: commit again',
    });
    return { outcome: 'open' };
  };
}
