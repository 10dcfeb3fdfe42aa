import { Cron } from 'croner';
import { errorText } from './invoke.js';
import { registerTriggerDispatcher } from './dispatchers.js';

/**
 * `timerTrigger` with NCRONTAB schedules (six fields, seconds first), run by croner. Like the Functions host,
 * an invocation still running when the next occurrence comes is not overlapped (croner `protect`).
 */
registerTriggerDispatcher('timerTrigger', async (fn, { invoke, logger }) => {
  const schedule = String(fn.trigger.schedule ?? '');
  if (schedule.trim().split(/\s+/).length !== 6) {
    throw new Error(`function "${fn.name}": timer schedule "${schedule}" must be an NCRONTAB expression with six fields (seconds first)`);
  }
  const running = new Set<Promise<unknown>>();
  const job = new Cron(schedule, { protect: true }, async () => {
    const payload = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: { Last: new Date().toISOString(), Next: job.nextRun()?.toISOString() ?? null, LastUpdated: new Date().toISOString() },
      IsPastDue: false,
    };
    const work = invoke({ trigger: { json: JSON.stringify(payload) } });
    running.add(work);
    const result = await work.finally(() => running.delete(work));
    if (result.error !== undefined) logger.error('function failed', { function: fn.name, error: errorText(result.error) });
    else logger.info('executed', { function: fn.name, ms: Math.round(result.durationMs) });
  });
  if (fn.trigger.runOnStartup === true) void job.trigger();
  return {
    async stop() {
      job.stop();
      await Promise.all(running);
    },
  };
});
