#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (`npm run build:dev` at the repository root).
import('../../dist/local/src/cli/main.js').then(
  ({ main }) => main(process.argv.slice(2)),
  (error) => {
    console.error(`bulkflow: cannot load the CLI (${error.message}); run "npm run build:dev" first`);
    process.exit(1);
  },
);
