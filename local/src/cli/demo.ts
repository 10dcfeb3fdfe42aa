import { join } from 'node:path';
import pg from 'pg';
import { dashboardUrl } from '../../../src/functions/dashboard.js';
import { appPackagePath } from '../packageRoot.js';
import { abortedThenGrace, runOnStack, stackBanner, STACK_OPTIONS, STACK_OPTIONS_USAGE, stackOptions } from './runOnStack.js';
import { ingestFile, printSummary } from './ingest.js';
import { parseCommandLine } from './args.js';

const USAGE = `usage: bulkflow demo [--serve] ${STACK_OPTIONS_USAGE}`;

/**
 * `npm start`: the product end to end on this machine. Starts the local stack, makes sure a second state (TX)
 * has an active upload so match analysis has something to compare with, then uploads the bundled California
 * sample (a few bad rows of every kind) and follows it to the end: progress, summary, event, matches.
 * `--serve` then keeps it all running until Ctrl-C, and says how to reach each service.
 */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({ args, options: { serve: { type: 'boolean', default: false }, ...STACK_OPTIONS } }, USAGE);
  if (!parsed) return 2;
  const { values } = parsed;
  const root = appPackagePath();
  return runOnStack({ ...stackOptions(values, 7071), logLevel: 'warning' }, async (stack, signal) => {
    if (!(await hasActiveUpload(stack.settings.DATABASE_URL!, 'TX'))) {
      console.error('uploading samples/participants-tx-sample.csv for TX first (150 of its lds_hash values also appear in the CA sample)...');
      const tx = await ingestFile(stack, join(root, 'samples', 'participants-tx-sample.csv'), 'TX', { progress: false, signal });
      console.error(`TX upload ${tx.uploadId}: ${tx.status}, ${tx.rowsCommitted} rows`);
    }
    console.error('uploading samples/participants-sample.csv to uploads/ca/ ...');
    const summary = await ingestFile(stack, join(root, 'samples', 'participants-sample.csv'), 'CA', { progress: true, signal });
    printSummary(summary);
    const code = summary.status === 'complete' ? 0 : 1;
    if (!values.serve) {
      console.log(`  dashboard: ${dashboardUrl(stack.url)} (sign in on the local page as a state user or an operator)`);
      console.log('\nnext: `npm start -- --serve` keeps everything running for the dashboard;' +
        ` \`npx bulkflow status ${summary.uploadId}\` reads this upload back.`);
      return code;
    }
    console.log(`\nserving until Ctrl-C:\n${stackBanner(stack, dashboardUrl(stack.url))}`);
    await abortedThenGrace(signal, 0);
    return code;
  });
}

async function hasActiveUpload(databaseUrl: string, state: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM bulkflow.active_uploads WHERE state = $1', [state]);
    return (rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}
