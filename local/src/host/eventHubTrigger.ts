import { startEventHubTrigger, type EventHubTriggerBindings } from '../eventhubs/trigger.js';
import { registerTriggerDispatcher } from './dispatchers.js';

/**
 * `eventHubTrigger`: the trigger consumes through the real SDK from whatever the app's connection setting points
 * at (the local endpoint or Azure) and invokes the function through the host's one invocation path. A failed
 * invocation throws, so the trigger delivers the same batch again and does not checkpoint.
 */
registerTriggerDispatcher('eventHubTrigger', async (fn, { invoke, logger, env }) => {
  return startEventHubTrigger({
    functionName: fn.name,
    bindings: fn.trigger as unknown as EventHubTriggerBindings,
    // The blob SDK reads `UseDevelopmentStorage=true` as Azurite's well-known account, as Core Tools does.
    checkpointStoreConnectionString: env.AzureWebJobsStorage ?? '',
    settings: env,
    invoke: async (input, metadata) => {
      const triggerMetadata = Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, { json: JSON.stringify(value) }]));
      const result = await invoke({ trigger: { json: JSON.stringify(input) }, triggerMetadata });
      if (result.error !== undefined) throw result.error;
    },
    log: (event, fields) => {
      const quiet = event.endsWith('.started') || event.endsWith('.partition-claimed');
      logger.log(quiet ? 'debug' : 'warning', event, { function: fn.name, ...fields });
    },
  });
});

