/** The one place that registers the app's functions with the Functions runtime. */
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { functionNames, triggerContracts } from './functionNames.js';
import { composeApp } from './composition.js';
import { makeActivateUploadActivity } from './activities/activateUploadActivity.js';
import { makeCommitChunkActivity } from './activities/commitChunkActivity.js';
import { makeFailUploadActivity } from './activities/failUploadActivity.js';
import { makePlanUploadActivity } from './activities/planUploadActivity.js';
import { makePublishOutboxActivity } from './activities/publishOutboxActivity.js';
import { makeRegisterUploadActivity } from './activities/registerUploadActivity.js';
import { uploadProgress } from './entities/uploadProgress.js';
import { blobCreatedStarter } from './functions/blobCreatedStarter.js';
import { makeHousekeeping } from './functions/housekeeping.js';
import { makeOutboxSweeper } from './functions/outboxSweeper.js';
import { makeMatchAnalysis } from './functions/matchAnalysis.js';
import { dashboard } from './functions/dashboard.js';
import { makeStatusApi } from './functions/uploadStatus.js';
import { ingestChunksOrchestrator } from './orchestrators/ingestChunksOrchestrator.js';
import { ingestOrchestrator } from './orchestrators/ingestOrchestrator.js';

// Nothing is connected or read here: the host loads this module to index the functions before any setting is needed.
const clients = composeApp();
const statusApi = makeStatusApi(clients);

df.app.client.eventGrid(functionNames.blobCreatedStarter, { handler: blobCreatedStarter });

df.app.orchestration(functionNames.ingestOrchestrator, ingestOrchestrator);
df.app.orchestration(functionNames.ingestChunksOrchestrator, ingestChunksOrchestrator);
df.app.activity(functionNames.registerUpload, { handler: makeRegisterUploadActivity(clients) });
df.app.activity(functionNames.planUpload, { handler: makePlanUploadActivity(clients) });
df.app.activity(functionNames.commitChunk, { handler: makeCommitChunkActivity(clients) });
df.app.activity(functionNames.activateUpload, { handler: makeActivateUploadActivity(clients) });
df.app.activity(functionNames.failUpload, { handler: makeFailUploadActivity(clients) });
df.app.activity(functionNames.publishOutbox, { handler: makePublishOutboxActivity(clients) });
df.app.entity(functionNames.uploadProgress, uploadProgress);

df.app.client.http(functionNames.uploadStatus, { route: 'uploads/{uploadId?}', methods: ['GET'], authLevel: 'function', handler: statusApi.uploadStatus });
app.http(functionNames.uploadErrors, { route: 'uploads/{uploadId}/errors', methods: ['GET'], authLevel: 'function', handler: statusApi.uploadErrors });
df.app.client.http(functionNames.stateUploads, { route: 'states/{state}/uploads', methods: ['GET'], authLevel: 'function', handler: statusApi.stateUploads });
app.http(functionNames.stateSummaries, { route: 'states', methods: ['GET'], authLevel: 'function', handler: statusApi.stateSummaries });
// The page and its assets hold no data (every figure comes from the function-level API above), so they need no key.
app.http(functionNames.dashboard, { route: 'dashboard/{*asset}', methods: ['GET'], authLevel: 'anonymous', handler: dashboard });

app.eventHub(functionNames.matchAnalysis, { ...triggerContracts.matchAnalysis, cardinality: 'many', handler: makeMatchAnalysis(clients) });

app.timer(functionNames.outboxSweeper, { schedule: '*/30 * * * * *', handler: makeOutboxSweeper(clients) });
df.app.client.timer(functionNames.housekeeping, { schedule: '0 17 * * * *', handler: makeHousekeeping(clients) });

app.hook.appTerminate(clients.close);
