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
import { uploadProgress } from './entities/uploadProgress.js';
import { blobCreatedStarter } from './functions/blobCreatedStarter.js';
import { makeHousekeeping } from './functions/housekeeping.js';
import { makeOutboxSweeper } from './functions/outboxSweeper.js';
import { makeMatchAnalysis } from './functions/matchAnalysis.js';
import { makeAccessGuard } from './functions/accessGuard.js';
import { makeDashboard } from './functions/dashboard.js';
import { httpOptions } from './functions/httpRoutes.js';
import { makeUploadFile } from './functions/uploadFile.js';
import { makeStatusApi } from './functions/uploadStatus.js';
import { makeMatchApi } from './functions/matchApi.js';
import { makeAuditApi } from './functions/auditApi.js';
import { makeOrchestrationConsole } from './functions/orchestrationConsole.js';
import { ingestChunksOrchestrator } from './orchestrators/ingestChunksOrchestrator.js';
import { ingestOrchestrator } from './orchestrators/ingestOrchestrator.js';

// Nothing is connected or read here: the host loads this module to index the functions before any setting is needed.
const clients = composeApp();
const statusApi = makeStatusApi(clients);
const matchApi = makeMatchApi(clients);
const orchestrationConsole = makeOrchestrationConsole();
// Every HTTP route's access rule is in functions/httpRoutes.ts; the guard applies it before the handler runs.
const access = makeAccessGuard(clients);

// Upload bodies stream through to blob storage instead of arriving whole (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT caps them).
app.setup({ enableHttpStream: true });

df.app.client.eventGrid(functionNames.blobCreatedStarter, { handler: blobCreatedStarter });

df.app.orchestration(functionNames.ingestOrchestrator, ingestOrchestrator);
df.app.orchestration(functionNames.ingestChunksOrchestrator, ingestChunksOrchestrator);
activity(functionNames.registerUpload, makeRegisterUploadActivity(clients));
activity(functionNames.planUpload, makePlanUploadActivity(clients));
activity(functionNames.commitChunk, makeCommitChunkActivity(clients));
activity(functionNames.activateUpload, makeActivateUploadActivity(clients));
activity(functionNames.failUpload, makeFailUploadActivity(clients));
activity(functionNames.publishOutbox, makePublishOutboxActivity(clients));
activity(functionNames.deleteUploadBlob, makeDeleteUploadBlobActivity(clients));
df.app.entity(functionNames.uploadProgress, uploadProgress);

app.http(functionNames.uploadFile, { ...httpOptions(functionNames.uploadFile), handler: access.protect(functionNames.uploadFile, makeUploadFile(clients)) });
df.app.client.http(functionNames.uploadStatus, { ...httpOptions(functionNames.uploadStatus), handler: access.protect(functionNames.uploadStatus, statusApi.uploadStatus) });
app.http(functionNames.uploadErrors, { ...httpOptions(functionNames.uploadErrors), handler: access.protect(functionNames.uploadErrors, statusApi.uploadErrors) });
df.app.client.http(functionNames.stateUploads, { ...httpOptions(functionNames.stateUploads), handler: access.protect(functionNames.stateUploads, statusApi.stateUploads) });
df.app.client.http(functionNames.stateSummaries, { ...httpOptions(functionNames.stateSummaries), handler: access.protect(functionNames.stateSummaries, statusApi.stateSummaries) });
app.http(functionNames.stateMatches, { ...httpOptions(functionNames.stateMatches), handler: access.protect(functionNames.stateMatches, matchApi.stateMatches) });
app.http(functionNames.matchRecord, { ...httpOptions(functionNames.matchRecord), handler: access.protect(functionNames.matchRecord, matchApi.matchRecord) });
app.http(functionNames.matchPairs, { ...httpOptions(functionNames.matchPairs), handler: access.protect(functionNames.matchPairs, matchApi.matchPairs) });
app.http(functionNames.auditRecords, { ...httpOptions(functionNames.auditRecords), handler: access.protect(functionNames.auditRecords, makeAuditApi(clients)) });
df.app.client.http(functionNames.orchestration, { ...httpOptions(functionNames.orchestration), handler: access.protect(functionNames.orchestration, orchestrationConsole.orchestration) });
df.app.client.http(functionNames.orchestrationAction, {
  ...httpOptions(functionNames.orchestrationAction),
  handler: access.protect(functionNames.orchestrationAction, orchestrationConsole.orchestrationAction),
});
app.http(functionNames.dashboard, { ...httpOptions(functionNames.dashboard), handler: access.open(functionNames.dashboard, makeDashboard(clients)) });

app.eventHub(functionNames.matchAnalysis, { ...triggerContracts.matchAnalysis, cardinality: 'many', handler: makeMatchAnalysis(clients) });

app.timer(functionNames.outboxSweeper, { schedule: '*/30 * * * * *', handler: makeOutboxSweeper(clients) });
df.app.client.timer(functionNames.housekeeping, { schedule: '0 17 * * * *', handler: makeHousekeeping(clients) });

app.hook.appTerminate(clients.close);

/** Registers an activity against its contract, so the handler and the orchestrators that call it cannot drift apart. */
function activity<N extends ActivityName>(name: N, handler: (input: ActivityInput<N>, context: InvocationContext) => Promise<ActivityOutput<N>>): void {
  df.app.activity(name, { handler });
}
