import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A --port value as a TCP port number (0 picks a free one); undefined, after saying why on stderr, when it is not one. */
export function tcpPort(value: string, usage?: string): number | undefined {
  const port = Number(value);
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  console.error(`--port must be a TCP port number, got "${value}"${usage ? `\n${usage}` : ''}`);
  return undefined;
}

/**
 * `parseArgs`, but a command line it refuses is said on stderr with the usage instead of thrown: undefined then,
 * and the command exits 2.
 */
export function parseCommandLine<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> | undefined {
  try {
    return parseArgs(config);
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return undefined;
  }
}
