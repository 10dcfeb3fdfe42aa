import type { Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import type { AppRegistry } from '../registry.js';
import type { HostSettings } from '../settings.js';
import { WorkerLoop } from '../workerLoop.js';
import { listen } from '../notifier.js';
import { ActivityWorker } from './activityWorker.js';
import { EntityWorker } from './entityWorker.js';
import { ManagementApi } from './managementApi.js';
import { OrchestrationWorker } from './orchestrationWorker.js';
import { createPool, hubSchema, migrateHub } from './store.js';

export interface DurableRuntimeOptions {
  databaseUrl: string;
  settings: HostSettings;
  registry: AppRegistry;
  invoker: Invoker;
  logger: HostLogger;
  activityLeaseMs: number;
  pollMs: number;
}

export interface DurableRuntime {
  management: ManagementApi;
  stats(): OrchestrationWorker['stats'];
  /** Stops claiming work, waits for running activities and episodes, closes connections. */
  stop(): Promise<void>;
}

/** Migrates the hub's schema and starts the orchestration, activity and entity workers. */
export async function startDurableRuntime(options: DurableRuntimeOptions): Promise<DurableRuntime> {
  const { databaseUrl, settings, registry, invoker, logger, pollMs } = options;
  const schema = hubSchema(settings.hubName);
  await migrateHub(databaseUrl, schema);
  const pool = createPool(databaseUrl, schema, 12);
  // An idle connection can die (e.g. Ctrl-C also reaches an embedded PostgreSQL in the same process group);
  // the work it carried is retried from the database, so this is not fatal.
  pool.on('error', (error) => logger.warn('idle database connection lost', { error: error.message }));
  const hub = { pool, schema, registry, invoker, logger };
  const orchestrations = new OrchestrationWorker(hub);
  const activities = new ActivityWorker(hub, settings.maxConcurrentActivityFunctions, options.activityLeaseMs);
  const entities = new EntityWorker(hub);
  const loops = {
    orchestrations: new WorkerLoop('orchestration', () => orchestrations.step(), () => orchestrations.nextDueMs(pollMs), logger),
    activities: new WorkerLoop('activity', () => activities.step(), () => pollMs, logger),
    entities: new WorkerLoop('entity', () => entities.step(), () => pollMs, logger),
  };
  let listener: Awaited<ReturnType<typeof listen>>;
  try {
    listener = await listen(databaseUrl, schema, {
      orchestrations: () => loops.orchestrations.wake(),
      activities: () => loops.activities.wake(),
      entities: () => loops.entities.wake(),
    }, logger);
  } catch (error) {
    await pool.end();
    throw error;
  }
  activities.startLeaseRenewal();
  // Episodes are CPU-bound replays on this one thread; two loops overlap one replay with the other's I/O.
  loops.orchestrations.start(Math.min(2, settings.maxConcurrentOrchestratorFunctions));
  loops.activities.start(1);
  loops.entities.start(1);
  // Large fan-outs log a summary instead of a line per activity.
  const summary = setInterval(() => {
    if (activities.executed + activities.failed === 0) return;
    logger.info('activities', { executed: activities.executed, failed: activities.failed });
    activities.executed = 0;
    activities.failed = 0;
  }, 10_000);
  summary.unref();

  return {
    management: new ManagementApi(pool, schema, registry, settings.hubName, (id) => orchestrations.forget(id)),
    stats: () => ({ ...orchestrations.stats }),
    async stop() {
      clearInterval(summary);
      await loops.activities.stop();
      await activities.drain();
      await loops.orchestrations.stop();
      await loops.entities.stop();
      await listener.close().catch(() => {});
      await pool.end();
    },
  };
}
