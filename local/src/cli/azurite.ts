import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { observeCommits } from '../eventGrid/commitJournal.js';

/**
 * `bulkflow azurite --journal FILE --blob-port N -- AZURITE-OPTIONS`: Azurite itself (its own command line and
 * startup), with every blob version it commits written to FILE for the local Event Grid source (see
 * `observeCommits`). Internal: `startAzurite` runs it in its own process.
 */
export async function run(args: string[]): Promise<number> {
  const split = args.indexOf('--');
  const { values } = parseArgs({ args: split < 0 ? args : args.slice(0, split), options: { journal: { type: 'string' }, 'blob-port': { type: 'string' } } });
  const blobPort = Number(values['blob-port']);
  if (!values.journal || !Number.isInteger(blobPort) || split < 0) {
    console.error('usage: bulkflow azurite --journal FILE --blob-port N -- AZURITE-OPTIONS');
    return 2;
  }
  const journal = values.journal;
  // Azurite creates its servers without a handle to them; each server it creates is watched here, and the one
  // that listens on the blob port is observed.
  const createServer = http.createServer;
  http.createServer = ((...serverArgs: Parameters<typeof createServer>) => {
    const server = createServer(...serverArgs);
    server.once('listening', () => {
      const address = server.address();
      if (typeof address === 'object' && address?.port === blobPort) observeCommits(server, journal);
    });
    return server;
  }) as typeof createServer;
  const cli = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/azurite.js');
  process.argv = [process.execPath, cli, ...args.slice(split + 1)];
  await import(cli);
  // Azurite runs until it is signalled; its own handlers close its servers and the process ends with them.
  return new Promise<number>(() => {});
}
