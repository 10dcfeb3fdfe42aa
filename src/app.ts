/** The one place that registers the app's functions with the Functions runtime. */
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { functionNames, triggerContracts } from './functionNames.js';
import { composeApp } from './composition.js';
import type { ActivityInput, ActivityName, ActivityOutput } from './ingestContracts.js';
import { makeActivateUploadActivity } from './activities/activateUploadActivity.js';
import { makeCommitChunkActivity } from './activities/commitChunkActivity.js';
import { makeFailUploadActivity } from './activities/failUploadActivity.js';
import { makePlanUploadActivity } from './activities/planUploadActivity.js';
import { makePublishOutboxActivity } from './activities/publishOutboxActivity.js';
import { makeDeleteUploadBlobActivity } from './activities/deleteUploadBlobActivity.js';
import { makeRegisterUploadActivity } from './activities/registerUploadActivity.js';
import { retryTransient } from './activities/transientRetry.js';
import { makeReopenUploadSessionActivity, makeVerifyUploadSessionActivity } from './activities/uploadSessionActivities.js';
import { uploadProgress } from './entities/uploadProgress.js';
import { blobCreatedStarter } from './functions/blobCreatedStarter.js';
import { makeHousekeeping } from './functions/housekeeping.js';
import { makeOutboxSweeper } from './functions/outboxSweeper.js';
import { makeMatchAnalysis } from './functions/matchAnalysis.js';
import { makeAccessGuard } from './functions/accessGuard.js';
import { httpOptions, httpRoutes, type AnyHttpRoute } from './functions/httpRoutes.js';
import { ingestChunksOrchestrator } from './orchestrators/ingestChunksOrchestrator.js';
import { ingestOrchestrator } from './orchestrators/ingestOrchestrator.js';
import { uploadSessionCommitOrchestrator } from './orchestrators/uploadSessionCommitOrchestrator.js';

// Nothing is connected or read here: the host loads this module to index the functions before any setting is needed.
const clients = composeApp();
// Every HTTP route is a row of functions/httpRoutes.ts; the guard authorises and decodes before its handler runs.
const access = makeAccessGuard(clients);

// Upload bodies stream through to blob storage instead of arriving whole (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT caps them).
app.setup({ enableHttpStream: true });

df.app.client.eventGrid(functionNames.blobCreatedStarter, { handler: blobCreatedStarter });

df.app.orchestration(functionNames.ingestOrchestrator, ingestOrchestrator);
df.app.orchestration(functionNames.ingestChunksOrchestrator, ingestChunksOrchestrator);
// The steps an upload's orchestration can fail on retry transient faults in place, so a failure stays rewindable.
activity(functionNames.registerUpload, retryTransient(makeRegisterUploadActivity(clients)));
activity(functionNames.planUpload, retryTransient(makePlanUploadActivity(clients)));
activity(functionNames.commitChunk, makeCommitChunkActivity(clients));
activity(functionNames.activateUpload, retryTransient(makeActivateUploadActivity(clients)));
activity(functionNames.failUpload, retryTransient(makeFailUploadActivity(clients)));
activity(functionNames.publishOutbox, makePublishOutboxActivity(clients));
activity(functionNames.deleteUploadBlob, makeDeleteUploadBlobActivity(clients));
df.app.entity(functionNames.uploadProgress, uploadProgress);
df.app.orchestration(functionNames.uploadSessionCommitOrchestrator, uploadSessionCommitOrchestrator);
activity(functionNames.verifyUploadSession, makeVerifyUploadSessionActivity(clients));
activity(functionNames.reopenUploadSession, makeReopenUploadSessionActivity(clients));

for (const [name, route] of Object.entries(httpRoutes) as [string, AnyHttpRoute][]) {
  const options = { ...httpOptions(route), handler: access.handle(name, route, route.handler(clients)) };
  if (route.durableClient) df.app.client.http(name, options);
  else app.http(name, options);
}

app.eventHub(functionNames.matchAnalysis, { ...triggerContracts.matchAnalysis, cardinality: 'many', handler: makeMatchAnalysis(clients) });

app.timer(functionNames.outboxSweeper, { schedule: '*/30 * * * * *', handler: makeOutboxSweeper(clients) });
df.app.client.timer(functionNames.housekeeping, { schedule: '0 17 * * * *', handler: makeHousekeeping(clients) });

app.hook.appTerminate(clients.close);

/** Registers an activity against its contract, so the handler and the orchestrators that call it cannot drift apart. */
function activity<N extends ActivityName>(name: N, handler: (input: ActivityInput<N>, context: InvocationContext) => Promise<ActivityOutput<N>>): void {
  df.app.activity(name, { handler });
}
