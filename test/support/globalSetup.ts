import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { resolvePostgres, type RunningPostgres } from '../../local/src/embeddedPostgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

let postgres: RunningPostgres | undefined;

/** One PostgreSQL server for the whole run; each test file makes its own database on it. */
export async function setup(project: TestProject): Promise<void> {
  postgres = await resolvePostgres({
    dataDir: join(process.cwd(), '.data', `test-postgres-${process.pid}`),
    persistent: false,
  });
  project.provide('postgresUrl', postgres.url);
}

export async function teardown(): Promise<void> {
  await postgres?.stop();
}
