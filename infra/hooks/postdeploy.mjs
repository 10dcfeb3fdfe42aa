// @ts-check
/**
 * postdeploy: subscribes the starter function to BlobCreated events of the uploads container. It runs after the
 * code is deployed because Event Grid validates an AzureFunction endpoint when the subscription is made.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { azFailureMatching, azFor, required, retry, retryDelayMs } from './az.mjs';

/** Must match src/functionNames.ts (test/infra/consistency.test.ts checks it). */
export const starterFunctionName = 'blobCreatedStarter';

const here = dirname(fileURLToPath(import.meta.url));

/** The host indexes functions a while after a deployment; until then `function show` answers "not found". */
const notYetIndexed = azFailureMatching(/not\s*found|ResourceNotFound|does not exist|\b404\b/i);

/**
 * A Flex app scaled to zero may not answer Event Grid's endpoint validation in time; throttling and a concurrent
 * operation on the topic pass too. Anything else (rights, a template error) is final.
 */
const transientSubscriptionFailure = azFailureMatching(
  /validat|handshake|endpoint|not\s*found|timed?\s*out|ServiceUnavailable|InternalServerError|TooManyRequests|Conflict|another operation|\b(429|500|502|503|504)\b/i,
);

/** @param {NodeJS.ProcessEnv} env */
export async function postdeploy(env) {
  const values = required(env, ['RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_UPLOADS_STORAGE_ACCOUNT_NAME', 'AZURE_EVENTGRID_SYSTEM_TOPIC']);
  const az = azFor(env);
  const delayMs = retryDelayMs(env);
  const app = ['--resource-group', values.RESOURCE_GROUP, '--name', values.AZURE_FUNCTION_APP_NAME];

  await retry(
    {
      attempts: 30,
      delayMs,
      retryable: notYetIndexed,
      onRetry: (_, attempt) => console.log(`postdeploy: waiting for ${starterFunctionName} to be indexed (${attempt})`),
    },
    () => az(['functionapp', 'function', 'show', ...app, '--function-name', starterFunctionName, '--query', 'name', '--output', 'tsv']),
  );

  await retry(
    {
      attempts: 10,
      delayMs,
      retryable: transientSubscriptionFailure,
      onRetry: (_, attempt) => console.log(`postdeploy: Event Grid could not validate ${starterFunctionName} yet (attempt ${attempt}), retrying`),
    },
    () =>
      az([
        'deployment', 'group', 'create',
        '--resource-group', values.RESOURCE_GROUP,
        '--name', 'eventgrid-subscription',
        '--template-file', join(here, '..', 'bicep', 'modules', 'eventGridSubscription.bicep'),
        '--parameters',
        `systemTopicName=${values.AZURE_EVENTGRID_SYSTEM_TOPIC}`,
        `functionAppName=${values.AZURE_FUNCTION_APP_NAME}`,
        `storageAccountName=${values.AZURE_UPLOADS_STORAGE_ACCOUNT_NAME}`,
        `deadLetterContainerName=${env.AZURE_EVENTGRID_DEADLETTER_CONTAINER || 'eventgrid-deadletter'}`,
        '--output', 'none',
      ]),
  );
  console.log(`postdeploy: ${values.AZURE_EVENTGRID_SYSTEM_TOPIC} delivers new uploads/*.csv blobs to ${starterFunctionName}`);
}
