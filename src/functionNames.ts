/**
 * Every function the app registers, by name, but the HTTP functions: those are the keys of the route table
 * (functions/httpRoutes.ts). src/app.ts registers them under these names and the deployment (infra/bicep, the Event
 * Grid subscription) targets them; test/infra checks both agree.
 */
export const functionNames = {
  blobCreatedStarter: 'blobCreatedStarter',
  ingestOrchestrator: 'ingestOrchestrator',
  ingestChunksOrchestrator: 'ingestChunksOrchestrator',
  registerUpload: 'registerUpload',
  planUpload: 'planUpload',
  commitChunk: 'commitChunk',
  activateUpload: 'activateUpload',
  failUpload: 'failUpload',
  publishOutbox: 'publishOutbox',
  deleteUploadBlob: 'deleteUploadBlob',
  uploadSessionCommitOrchestrator: 'uploadSessionCommitOrchestrator',
  verifyUploadSession: 'verifyUploadSession',
  reopenUploadSession: 'reopenUploadSession',
  uploadProgress: 'uploadProgress',
  matchAnalysis: 'matchAnalysis',
  outboxSweeper: 'outboxSweeper',
  housekeeping: 'housekeeping',
} as const;

export type FunctionName = (typeof functionNames)[keyof typeof functionNames];

/** Trigger details the deployment depends on, kept beside the names so app and infra share one source. */
export const triggerContracts = {
  blobCreatedStarter: {
    eventType: 'Microsoft.Storage.BlobCreated',
    uploadsContainer: 'uploads',
    subjectBeginsWith: '/blobServices/default/containers/uploads/blobs/',
    subjectEndsWith: '.csv',
  },
  matchAnalysis: {
    connection: 'EventHubConnection',
    eventHubName: '%EVENT_HUB_NAME%',
    consumerGroup: 'match-analysis',
  },
} as const;
