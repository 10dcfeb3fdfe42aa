import type { OrchestrationContext } from 'durable-functions';
import type { IngestInput, IngestOutput } from '../ingestContracts.js';
import type { Step } from './dispatcher.js';
import { IngestSteps } from './ingestSteps.js';

/**
 * One upload, as the product's steps: register -> plan -> commit chunks -> activate (or fail) -> publish.
 * Deterministic: no clock, randomness or I/O here; activities do the work and return ids and counts.
 */
export function* ingestOrchestrator(context: OrchestrationContext): Step<IngestOutput> {
  const steps = new IngestSteps(context);
  const upload = yield* steps.register(context.df.getInput<IngestInput>());
  if (upload.finished) return steps.alreadyFinished(upload);
  const plan = yield* steps.plan(upload);
  if (!plan.ok) return yield* steps.publish(steps.planFailed(upload, plan));
  const committed = yield* steps.commitChunks(upload, plan);
  return yield* steps.publish(yield* steps.settle(upload, plan, committed));
}
