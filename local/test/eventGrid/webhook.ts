import { createServer, type Server } from 'node:http';

/** A stand-in for the Functions host's Event Grid webhook: hands each delivered batch to `answer`, replies its status. */
export async function startWebhook(answer: (events: unknown[]) => number): Promise<{ server: Server; hostUrl: string }> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk)).on('end', () => {
      response.writeHead(answer(JSON.parse(body) as unknown[])).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, hostUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}
