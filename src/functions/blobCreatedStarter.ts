import type { EventGridEvent, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import type { AppClients } from '../composition.js';
import { instanceIdOf, registrationStatus, uploadIdOf, type UploadIdentity } from '../engine/index.js';
import { functionNames } from '../functionNames.js';
import { decodeBlobEvent, MalformedEventError } from './blobEvent.js';

/**
 * Answers Event Grid quickly and starts at most one orchestration per blob version, however often Event Grid
 * redelivers. Only transient faults throw, so Event Grid retries them.
 *
 * The upload's own row decides: an orchestration registers its upload first thing, so a registered upload has (or
 * had) its orchestration and a redelivery is acknowledged without touching the durable API. Otherwise one start;
 * only when that start is refused is the instance looked up (a concurrent delivery started it: success too).
 * Starting first without the row would restart finished uploads: the extension replaces an ended instance.
 */
export function makeBlobCreatedStarter({ db }: Pick<AppClients, 'db'>) {
  return async function blobCreatedStarter(event: EventGridEvent, client: DurableClient, context: InvocationContext): Promise<void> {
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
    const uploadId = uploadIdOf(decision.upload);
    const instanceId = instanceIdOf(uploadId);
    const registered = await registrationStatus(await db(), uploadId);
    const outcome = registered ? `registered (${registered})` : await startOnce(client, instanceId, decision.upload);
    context.log(`event ${event.id}: instance ${instanceId} ${outcome}`);
  };
}

async function startOnce(client: DurableClient, instanceId: string, input: UploadIdentity): Promise<'started' | 'exists'> {
  try {
    await client.startNew(functionNames.ingestOrchestrator, { instanceId, input });
    return 'started';
  } catch (error) {
    // Refused because a concurrent delivery's start won the race (the extension answers 500 for a running instance).
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
