import type { InvocationContext } from '@azure/functions';
import { failUpload } from '../engine/index.js';
import type { AppClients } from '../composition.js';
import type { ActivateResult, FailInput } from '../ingestContracts.js';
import { reported } from './activateUploadActivity.js';

/** A chunk failed for good: the upload fails, keeps its error rows, and the active upload stays as it was. */
export function makeFailUploadActivity({ db }: Pick<AppClients, 'db'>) {
  return async function failUploadActivity(input: FailInput, context: InvocationContext): Promise<ActivateResult> {
    return reported(context, input.uploadId, await failUpload(await db(), input.uploadId, { code: input.code, message: input.message }));
  };
}
