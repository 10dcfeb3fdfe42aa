import { describe, expect, it } from 'vitest';
import { running, runningMembers } from '../../src/lifecycle/processGroup.js';
import { spawnService } from '../../src/lifecycle/services.js';

describe('a service process', () => {
  it('has ended only when its whole process group has: what the leader left running is killed first', async () => {
    // The leader starts a child in its group (as the postmaster starts its backends), then is killed alone.
    const service = spawnService('sleeper', 'sh', ['-c', 'sleep 60 & echo "child $!"; wait'], { stopSignal: 'SIGTERM', exitSignal: 'SIGKILL' });
    while (!/child \d+/.test(service.output())) await new Promise((done) => setTimeout(done, 10));
    const child = Number(/child (\d+)/.exec(service.output())![1]);
    expect(running(child)).toBe(true);
    process.kill(service.child.pid!, 'SIGKILL');
    expect(await service.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(running(child)).toBe(false);
    expect(runningMembers(service.child.pid!)).toEqual([]);
  });

  it('a zombie (killed, not yet reaped) does not count as running; kill(pid, 0) still finds it', async () => {
    // The parent ignores its child's end for 2 s, so the killed child stays a zombie meanwhile.
    const service = spawnService('parent', 'sh', ['-c', 'sleep 60 & echo "child $!"; exec sleep 2'], { stopSignal: 'SIGTERM', exitSignal: 'SIGKILL' });
    while (!/child \d+/.test(service.output())) await new Promise((done) => setTimeout(done, 10));
    const child = Number(/child (\d+)/.exec(service.output())![1]);
    process.kill(child, 'SIGKILL');
    while (running(child)) await new Promise((done) => setTimeout(done, 10));
    expect(() => process.kill(child, 0)).not.toThrow();
    expect(running(child)).toBe(false);
    await service.stop(1_000);
  });
});
