/** The one place that registers the app's functions with the Functions runtime. */
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { functionNames, triggerContracts } from './functionNames.js';
import { activateUploadActivity } from './activities/activateUploadActivity.js';
import { commitChunkActivity } from './activities/commitChunkActivity.js';
import { failUploadActivity } from './activities/failUploadActivity.js';
import { planUploadActivity } from './activities/planUploadActivity.js';
import { publishOutboxActivity } from './activities/publishOutboxActivity.js';
import { registerUploadActivity } from './activities/registerUploadActivity.js';
import { uploadProgress } from './entities/uploadProgress.js';
import { blobCreatedStarter } from './functions/blobCreatedStarter.js';
import { housekeeping } from './functions/housekeeping.js';
import { outboxSweeper } from './functions/outboxSweeper.js';
import { matchAnalysis } from './functions/matchAnalysis.js';
import { createDashboard } from './functions/dashboard.js';
import { createAccessGuard } from './functions/accessGuard.js';
import { httpOptions } from './functions/httpRoutes.js';
import { createUploadFile } from './functions/uploadFile.js';
import { stateSummaries, stateUploads, uploadErrors, uploadStatus } from './functions/uploadStatus.js';
import { createRateLimiter, type RateLimit } from './auth/rateLimiter.js';
import { createTokenValidator } from './auth/tokenValidator.js';
import { uploadIdOfInstance, uploadStateOf } from './engine/index.js';
import { ingestChunksOrchestrator } from './orchestrators/ingestChunksOrchestrator.js';
import { ingestOrchestrator } from './orchestrators/ingestOrchestrator.js';
import { appSettings, closeRuntime, db, uploadStorage } from './adapters/runtime.js';

df.app.client.eventGrid(functionNames.blobCreatedStarter, { handler: blobCreatedStarter });

df.app.orchestration(functionNames.ingestOrchestrator, ingestOrchestrator);
df.app.orchestration(functionNames.ingestChunksOrchestrator, ingestChunksOrchestrator);
df.app.activity(functionNames.registerUpload, { handler: registerUploadActivity });
df.app.activity(functionNames.planUpload, { handler: planUploadActivity });
df.app.activity(functionNames.commitChunk, { handler: commitChunkActivity });
df.app.activity(functionNames.activateUpload, { handler: activateUploadActivity });
df.app.activity(functionNames.failUpload, { handler: failUploadActivity });
df.app.activity(functionNames.publishOutbox, { handler: publishOutboxActivity });
df.app.entity(functionNames.uploadProgress, uploadProgress);

// Upload bodies stream through to blob storage instead of arriving whole (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT caps them).
app.setup({ enableHttpStream: true });

// Every HTTP route's access rule is in functions/httpRoutes.ts; the guard applies it before the handler runs.
const access = createAccessGuard({
  authenticate: onFirstCall(() => createTokenValidator(appSettings().auth)),
  rateLimit: async (callerId) => (rateLimit ??= createRateLimiter(await db(), { limit: appSettings().auth.rateLimitPerMinute }))(callerId),
  uploadState: async (id) => uploadStateOf(await db(), id.includes('/') ? id : uploadIdOfInstance(id)),
});
let rateLimit: RateLimit | undefined;
const uploadsContainer = () => uploadStorage().getContainerClient(triggerContracts.blobCreatedStarter.uploadsContainer);

app.http(functionNames.uploadFile, {
  ...httpOptions(functionNames.uploadFile),
  handler: access.protect(functionNames.uploadFile, onFirstCall(() => createUploadFile({ uploads: uploadsContainer, maxBytes: appSettings().uploadMaxBytes }))),
});
df.app.client.http(functionNames.uploadStatus, { ...httpOptions(functionNames.uploadStatus), handler: access.protect(functionNames.uploadStatus, uploadStatus) });
app.http(functionNames.uploadErrors, { ...httpOptions(functionNames.uploadErrors), handler: access.protect(functionNames.uploadErrors, uploadErrors) });
df.app.client.http(functionNames.stateUploads, { ...httpOptions(functionNames.stateUploads), handler: access.protect(functionNames.stateUploads, stateUploads) });
df.app.client.http(functionNames.stateSummaries, { ...httpOptions(functionNames.stateSummaries), handler: access.protect(functionNames.stateSummaries, stateSummaries) });
app.http(functionNames.dashboard, {
  ...httpOptions(functionNames.dashboard),
  handler: access.open(functionNames.dashboard, onFirstCall(() => createDashboard(appSettings().dashboard))),
});

app.eventHub(functionNames.matchAnalysis, { ...triggerContracts.matchAnalysis, cardinality: 'many', handler: matchAnalysis });

app.timer(functionNames.outboxSweeper, { schedule: '*/30 * * * * *', handler: outboxSweeper });
df.app.client.timer(functionNames.housekeeping, { schedule: '0 17 * * * *', handler: housekeeping });

app.hook.appTerminate(closeRuntime);

/** Built on first call, from settings read then: the app loads without settings, as the host's indexing does. */
function onFirstCall<A extends unknown[], T>(build: () => (...args: A) => T): (...args: A) => T {
  let built: ((...args: A) => T) | undefined;
  return (...args) => (built ??= build())(...args);
}
