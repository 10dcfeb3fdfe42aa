import type { InvocationContext } from '@azure/functions';
import { partLayout, type ReceivedPart, type SessionFailure, uploadIdOf, type UploadSession } from '../engine/index.js';
import type { StagedUploads } from '../adapters/stagedUploads.js';

/** What committing a session needs: its staged bytes and the container its file is stored in. */
export interface PublishDeps {
  readonly staged: StagedUploads;
  readonly containerName: string;
}

export type PublishOutcome = { readonly uploadId: string } | { readonly failure: SessionFailure };

/** The parts that have not arrived (or not at their length) yet. */
export function missingParts(session: UploadSession, parts: readonly ReceivedPart[]): number[] {
  const { count, lengthOf } = partLayout(session.size, session.partBytes);
  const missing = [];
  for (let n = 1; n <= count; n += 1) if (parts[n - 1]?.partNumber !== n || parts[n - 1]?.bytes !== lengthOf(n)) missing.push(n);
  return missing;
}

export const CHECKSUM_MISMATCH: SessionFailure = {
  title: 'Checksum mismatch',
  detail: 'the parts put together do not have the SHA-256 declared for the file; nothing was stored and the parts were deleted: upload the file again',
};

/**
 * Commits a session whose every part is staged: the blocks put together, the whole file's SHA-256 checked when the
 * client declared one, then one server-side copy to `{state}/{file}` (its BlobCreated event starts ingestion). The
 * caller records the outcome, then deletes the staged bytes. Safe to run again after a crash at any step.
 */
export async function verifyAndPublish(
  deps: PublishDeps,
  session: UploadSession,
  parts: readonly ReceivedPart[],
  log: Pick<InvocationContext, 'log' | 'warn'>,
): Promise<PublishOutcome> {
  const started = Date.now();
  await deps.staged.assemble(session.state, session.id, parts.map((part) => part.blockId));
  if (session.sha256) {
    // A file of one part was hashed as it streamed in; a larger one is read back once.
    const sha256 = parts.length === 1 ? parts[0]!.sha256 : await deps.staged.digest(session.state, session.id);
    if (!sha256.equals(session.sha256)) {
      log.warn(`upload refused: session=${session.id} state=${session.state.toUpperCase()} reason="sha256 mismatch"`);
      return { failure: CHECKSUM_MISMATCH };
    }
  }
  const verified = Date.now();
  const etag = await deps.staged.publish(session.state, session.id, session.fileName);
  const state = session.state.toLowerCase();
  const uploadId = uploadIdOf({ state, container: deps.containerName, blobName: `${state}/${session.fileName}`, etag });
  log.log(
    `upload stored: session=${session.id} state=${session.state.toUpperCase()} upload=${uploadId} bytes=${session.size} parts=${parts.length} ` +
      `verifyMs=${verified - started} copyMs=${Date.now() - verified}`,
  );
  return { uploadId };
}
