#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript, built with the app when `npm ci` installs this workspace (its
// `prepare` script runs `npm run build:dev` at the repository root).
import('../../dist/local/src/cli/main.js').then(
  ({ main }) => main(process.argv.slice(2)),
  (error) => {
    console.error(`bulkflow: cannot load the CLI (${error.message}); run "npm run build:dev" at the repository root (npm ci does, unless scripts are off)`);
    process.exit(1);
  },
);
