import { describe, expect, it } from 'vitest';
import { orchestrationTimeline, type HistoryEvent } from '../../src/status/orchestrationTimeline.js';

const ev = (EventType: string, FunctionName?: string): HistoryEvent => ({ EventType, ...(FunctionName ? { FunctionName } : {}), Timestamp: '2026-01-01T00:00:00Z' });
const START = [ev('ExecutionStarted'), ev('TaskCompleted', 'registerUpload'), ev('TaskCompleted', 'planUpload')];

describe('orchestrationTimeline: rewindable', () => {
  it('is rewindable when the failed call was the last thing it did (concurrent failures included)', () => {
    expect(orchestrationTimeline([...START, ev('TaskFailed', 'activateUpload'), { ...ev('ExecutionCompleted'), OrchestrationStatus: 'Failed' }]).rewindable).toBe(true);
    expect(orchestrationTimeline([...START, ev('TaskFailed', 'commitChunk'), ev('TaskFailed', 'commitChunk'), ev('ExecutionCompleted')]).rewindable).toBe(true);
    // Rewound before and failed again: the earlier failures are GenericEvents now.
    expect(orchestrationTimeline([...START, ev('GenericEvent'), ev('GenericEvent'), ev('TaskFailed', 'activateUpload'), ev('ExecutionCompleted')]).rewindable).toBe(true);
  });

  it('is not when a retry timer or a later call followed the failure, or nothing failed', () => {
    expect(orchestrationTimeline([...START, ev('TaskFailed', 'commitChunk'), ev('TimerFired'), ev('TaskFailed', 'commitChunk'), ev('ExecutionCompleted')]).rewindable).toBe(false);
    expect(orchestrationTimeline([...START, ev('TaskFailed', 'planUpload'), ev('TaskCompleted', 'failUpload'), ev('ExecutionCompleted')]).rewindable).toBe(false);
    expect(orchestrationTimeline([...START, { ...ev('ExecutionCompleted'), OrchestrationStatus: 'Failed' }]).rewindable).toBe(false);
  });
});
