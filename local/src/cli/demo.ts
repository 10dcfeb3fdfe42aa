import { join } from 'node:path';
import pg from 'pg';
import { packageRoot } from '../../../src/engine/index.js';
import { startLocalStack } from '../stack.js';
import { dashboardUrl } from '../../../src/functions/dashboard.js';
import { ingestFile, printSummary } from './ingest.js';

/**
 * `npm start`: the product end to end on this machine. Starts the local stack, makes sure a second state (TX)
 * has an active upload so match analysis has something to compare with, then uploads the bundled California
 * sample (a few bad rows of every kind) and follows it to the end: progress, summary, event, matches.
 */
export async function run(args: string[]): Promise<number> {
  const serve = args.includes('--serve');
  const root = packageRoot();
  console.error('starting embedded PostgreSQL, Azurite, the Event Hubs endpoint and the Functions host...');
  const stack = await startLocalStack({ appDir: root, dataDir: join(root, '.data'), port: 7071, eventHubsPort: 5672, logLevel: 'warning' });
  try {
    if (!(await hasActiveUpload(stack.settings.DATABASE_URL!, 'TX'))) {
      console.error('uploading samples/participants-tx-sample.csv for TX first (150 of its lds_hash values also appear in the CA sample)...');
      const tx = await ingestFile(stack, join(root, 'samples', 'participants-tx-sample.csv'), 'TX', { progress: false });
      console.error(`TX upload ${tx.uploadId}: ${tx.status}, ${tx.rowsCommitted} rows`);
    }
    console.error('uploading samples/participants-sample.csv to uploads/ca/ ...');
    const summary = await ingestFile(stack, join(root, 'samples', 'participants-sample.csv'), 'CA', { progress: true });
    printSummary(summary);
    console.log(`  dashboard: ${dashboardUrl(stack.url)}`);
    if (serve) {
      console.log('\nserving until Ctrl-C (upload more files to the uploads container, or open the dashboard)...');
      await new Promise<void>((done) => {
        process.once('SIGINT', () => done());
        process.once('SIGTERM', () => done());
      });
    } else {
      console.log('\nnext: `npm start -- --serve` keeps everything running for the dashboard;' +
        ` \`npx bulkflow status ${summary.uploadId}\` reads this upload back.`);
    }
    return summary.status === 'complete' ? 0 : 1;
  } finally {
    await stack.stop();
  }
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
