import { describe, expect, it } from 'vitest';
import { startTestStack } from '../support/localStack.js';
import { suiteResource } from '../support/suite.js';
import { CSV_HEADER, finalStatus, putBlob, validRows } from '../support/uploads.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// The scale benchmark measures the host's memory this way: the host alone in its own process, the rest of the stack here.
describe('local stack with the host in its own process', () => {
  let stopped = false;
  const t = suiteResource(() => startTestStack({}, { hostProcess: true }), async (stack) => {
    if (!stopped) await stack.stop();
  });

  it('ingests an upload end to end through the child host, which exits on stop', async () => {
    const hostPid = t.stack.hostPid;
    expect(hostPid).not.toBe(process.pid);
    expect(alive(hostPid)).toBe(true);
    await putBlob(t, 'ok/child-host.csv', `${CSV_HEADER}\n${validRows(0, 120)}`);
    const status = await finalStatus(t, 'ok/child-host.csv');
    expect(status).toMatchObject({ status: 'complete', rowsCommitted: 120, rowsRejected: 0 });
    stopped = true;
    await t.stop();
    expect(alive(hostPid)).toBe(false);
  });
});
