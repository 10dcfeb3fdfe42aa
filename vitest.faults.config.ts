import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: fault injection that takes minutes (processes killed and restarted). */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.test.ts', 'local/test/**/*.faults.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 600_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // One at a time: each file runs its own PostgreSQL, Azurite and host on a 2-core machine.
    fileParallelism: false,
  },
});
