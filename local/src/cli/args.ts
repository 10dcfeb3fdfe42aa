/** A --port value as a TCP port number (0 picks a free one); undefined, after saying why on stderr, when it is not one. */
export function tcpPort(value: string, usage?: string): number | undefined {
  const port = Number(value);
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  console.error(`--port must be a TCP port number, got "${value}"${usage ? `\n${usage}` : ''}`);
  return undefined;
}
