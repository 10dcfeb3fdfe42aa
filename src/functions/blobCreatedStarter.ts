import type { EventGridEvent, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { instanceIdOf, uploadIdOf, type UploadIdentity } from '../engine/index.js';
import { functionNames } from '../functionNames.js';
import { decodeBlobEvent, MalformedEventError } from './blobEvent.js';

/**
 * Answers Event Grid quickly (two calls to the durable API) and starts at most one orchestration per blob
 * version, however often Event Grid redelivers. Only transient faults throw, so Event Grid retries them.
 */
export async function blobCreatedStarter(event: EventGridEvent, client: DurableClient, context: InvocationContext): Promise<void> {
  let decision;
  try {
    decision = decodeBlobEvent(event);
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
  // Every delivery of one blob version maps to one instance.
  const instanceId = instanceIdOf(uploadIdOf(decision.upload));
  const outcome = await startOnce(client, instanceId, decision.upload);
  context.log(`event ${event.id}: instance ${instanceId} ${outcome}`);
}

async function startOnce(client: DurableClient, instanceId: string, input: UploadIdentity): Promise<'started' | 'exists'> {
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
