import { isTransient } from '../engine/index.js';

/** Waits before the 2nd..5th attempt: about 30 s in all, what the runtime's retry options gave these steps before. */
export const TRANSIENT_RETRY_DELAYS_MS: readonly number[] = [2_000, 4_000, 8_000, 16_000];

/**
 * Retries an activity inside its invocation while it fails transiently (a database or storage blip), and fails at
 * once on anything else. The steps an orchestration can fail on retry here rather than through the runtime's retry
 * options: those leave a failed attempt and a retry timer in the history for every retry, and a rewind (which
 * removes only the failures) then no longer replays (Azure/azure-functions-durable-extension#617). So a failed
 * orchestration's last event is its one failed call, and an operator can rewind it once the cause is fixed.
 */
export function retryTransient<I, O, C>(
  handler: (input: I, context: C) => Promise<O>,
  delaysMs: readonly number[] = TRANSIENT_RETRY_DELAYS_MS,
): (input: I, context: C) => Promise<O> {
  return async (input, context) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await handler(input, context);
      } catch (error) {
        const delay = delaysMs[attempt];
        if (delay === undefined || !isTransient(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}
