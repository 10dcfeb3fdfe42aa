import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'local/test/**/*.test.ts'],
    // Minutes-long fault injection: `npm run test:faults` (vitest.faults.config.ts).
    exclude: ['**/*.faults.test.ts', '**/node_modules/**'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2-core machines: files run in parallel processes, each with its own database.
    pool: 'forks',
  },
});
