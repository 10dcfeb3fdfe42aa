import { describe, expect, it } from 'vitest';
import { retryTransient } from '../../src/activities/transientRetry.js';
import { PermanentError, TransientError } from '../../src/engine/index.js';

/** A handler that throws `errors` in turn, then answers; counts its calls. */
function scripted(errors: Error[]) {
  let calls = 0;
  const handler = async (input: number): Promise<number> => {
    const error = errors[calls++];
    if (error) throw error;
    return input * 2;
  };
  return { handler, calls: () => calls };
}

describe('retryTransient', () => {
  it('retries transient faults (SQLSTATE 57P01, a reset connection) in place and answers', async () => {
    const shutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const run = scripted([shutdown, reset]);
    await expect(retryTransient(run.handler, [1, 1, 1])(21, undefined)).resolves.toBe(42);
    expect(run.calls()).toBe(3);
  });

  it('fails at once on a permanent fault (permission denied): retrying cannot help', async () => {
    const denied = Object.assign(new Error('permission denied for table active_uploads'), { code: '42501' });
    const run = scripted([denied]);
    await expect(retryTransient(run.handler, [1, 1])(1, undefined)).rejects.toBe(denied);
    expect(run.calls()).toBe(1);
    const permanent = scripted([new PermanentError('bug')]);
    await expect(retryTransient(permanent.handler, [1])(1, undefined)).rejects.toThrow('bug');
    expect(permanent.calls()).toBe(1);
  });

  it('gives up with the last transient fault once its delays are used up', async () => {
    const run = scripted([new TransientError('a'), new TransientError('b'), new TransientError('c')]);
    await expect(retryTransient(run.handler, [1, 1])(1, undefined)).rejects.toThrow('c');
    expect(run.calls()).toBe(3);
  });
});
