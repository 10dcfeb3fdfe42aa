/** The one place that registers the app's functions with the Functions runtime. */
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { functionNames, triggerContracts } from './functionNames.js';
import type { ActivityInput, ActivityName, ActivityOutput } from './ingestContracts.js';
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
import { dashboard } from './functions/dashboard.js';
import { stateSummaries, stateUploads, uploadErrors, uploadStatus } from './functions/uploadStatus.js';
import { ingestChunksOrchestrator } from './orchestrators/ingestChunksOrchestrator.js';
import { ingestOrchestrator } from './orchestrators/ingestOrchestrator.js';
import { closeRuntime } from './adapters/runtime.js';

df.app.client.eventGrid(functionNames.blobCreatedStarter, { handler: blobCreatedStarter });

df.app.orchestration(functionNames.ingestOrchestrator, ingestOrchestrator);
df.app.orchestration(functionNames.ingestChunksOrchestrator, ingestChunksOrchestrator);
activity(functionNames.registerUpload, registerUploadActivity);
activity(functionNames.planUpload, planUploadActivity);
activity(functionNames.commitChunk, commitChunkActivity);
activity(functionNames.activateUpload, activateUploadActivity);
activity(functionNames.failUpload, failUploadActivity);
activity(functionNames.publishOutbox, publishOutboxActivity);
df.app.entity(functionNames.uploadProgress, uploadProgress);

df.app.client.http(functionNames.uploadStatus, { route: 'uploads/{uploadId?}', methods: ['GET'], authLevel: 'function', handler: uploadStatus });
app.http(functionNames.uploadErrors, { route: 'uploads/{uploadId}/errors', methods: ['GET'], authLevel: 'function', handler: uploadErrors });
df.app.client.http(functionNames.stateUploads, { route: 'states/{state}/uploads', methods: ['GET'], authLevel: 'function', handler: stateUploads });
app.http(functionNames.stateSummaries, { route: 'states', methods: ['GET'], authLevel: 'function', handler: stateSummaries });
// The page and its assets hold no data (every figure comes from the function-level API above), so they need no key.
app.http(functionNames.dashboard, { route: 'dashboard/{*asset}', methods: ['GET'], authLevel: 'anonymous', handler: dashboard });

app.eventHub(functionNames.matchAnalysis, { ...triggerContracts.matchAnalysis, cardinality: 'many', handler: matchAnalysis });

app.timer(functionNames.outboxSweeper, { schedule: '*/30 * * * * *', handler: outboxSweeper });
df.app.client.timer(functionNames.housekeeping, { schedule: '0 17 * * * *', handler: housekeeping });

app.hook.appTerminate(closeRuntime);

/** Registers an activity against its contract, so the handler and the orchestrators that call it cannot drift apart. */
function activity<N extends ActivityName>(name: N, handler: (input: ActivityInput<N>, context: InvocationContext) => Promise<ActivityOutput<N>>): void {
  df.app.activity(name, { handler });
}
