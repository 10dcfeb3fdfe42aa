import type { EventGridEvent, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { classifyBlobEvent, MalformedEventError, uploadSource, type BlobUpload } from '../engine/blobCreated.js';
import { uploadIdFor } from '../engine/index.js';
import { functionNames } from '../functionNames.js';

/**
 * Readable and prefix-searchable in the Durable Functions monitor: `ingest-ca-…`. Derived from the blob's
 * path and eTag, so every delivery of one blob version maps to one instance.
 */
export function ingestInstanceId(upload: BlobUpload): string {
  return `ingest-${uploadIdFor({ state: upload.state, source: uploadSource(upload), etag: upload.etag })}`;
}

/**
 * Answers Event Grid quickly (two calls to the durable API) and starts at most one orchestration per blob
 * version, however often Event Grid redelivers. Only transient faults throw, so Event Grid retries them.
 */
export async function blobCreatedStarter(event: EventGridEvent, client: DurableClient, context: InvocationContext): Promise<void> {
  let decision;
  try {
    decision = classifyBlobEvent(event);
  } catch (error) {
    if (!(error instanceof MalformedEventError)) throw error;
    // Redelivering a malformed event cannot fix it: acknowledge and say why.
    context.warn(`ignored malformed event ${String(event?.id)}: ${error.message}`);
    return;
  }
  if (decision.kind === 'ignore') {
    context.log(`ignored event ${event.id}: ${decision.reason}`);
    return;
  }
  const instanceId = ingestInstanceId(decision.upload);
  const outcome = await startOnce(client, instanceId, decision.upload);
  context.log(`event ${event.id}: instance ${instanceId} ${outcome}`);
}

async function startOnce(client: DurableClient, instanceId: string, input: BlobUpload): Promise<'started' | 'exists'> {
  if (await exists(client, instanceId)) return 'exists';
  try {
    await client.startNew(functionNames.ingestOrchestrator, { instanceId, input });
    return 'started';
  } catch (error) {
    // A concurrent delivery of the same event won the race: that is success too.
    if (await exists(client, instanceId)) return 'exists';
    throw error;
  }
}

async function exists(client: DurableClient, instanceId: string): Promise<boolean> {
  try {
    await client.getStatus(instanceId, { showInput: false });
    return true;
  } catch (error) {
    // durable-functions 3.x reports an unknown instance by throwing on the extension's 404.
    if (/HTTP 404/.test((error as Error).message)) return false;
    throw error;
  }
}
