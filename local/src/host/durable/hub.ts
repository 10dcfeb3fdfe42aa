import type pg from 'pg';
import type { Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import type { AppRegistry } from '../registry.js';

/** What every durable worker of one task hub shares. */
export interface TaskHub {
  pool: pg.Pool;
  /** The hub's PostgreSQL schema (also the prefix of its NOTIFY channels). */
  schema: string;
  registry: AppRegistry;
  invoker: Invoker;
  logger: HostLogger;
}
