import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The local package's own folder, from its compiled copy (dist/local/src) or its sources alike: the workspace
 * link in node_modules names it, so no walking up the tree is needed.
 */
export function localPackagePath(...parts: string[]): string {
  const root = dirname(createRequire(import.meta.url).resolve('@bulkflow/local/package.json'));
  return join(root, ...parts);
}

/** The app's package folder (its package.json, dist/, samples/, .data/): the workspace root this package lives in. */
export function appPackagePath(...parts: string[]): string {
  return localPackagePath('..', ...parts);
}
