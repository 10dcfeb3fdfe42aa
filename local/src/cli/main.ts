/** Entry point of `npx bulkflow <command>`; each command lives in its own module, loaded on demand. */
type Command = { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  demo: { summary: 'the main job: ingest the bundled samples end to end on the local stack, with progress', load: () => import('./demo.js') },
  ingest: { summary: 'ingest FILE --state XX through the whole local stack, with progress [--json]', load: () => import('./ingest.js') },
  status: { summary: 'status ID [--json]: an upload by id, instance id or blob name', load: () => import('./status.js') },
  token: { summary: 'token --state XX [--state YY] | --operator: print a bearer token the local stack accepts', load: () => import('./token.js') },
  host: { summary: 'run a Functions app locally (HTTP, Event Grid, durable, timers)', load: () => import('./host.js') },
  eventhubs: { summary: 'run the local Event Hubs endpoint (AMQP on port 5672)', load: () => import('./eventhubs.js') },
  azurite: { summary: 'Azurite, writing each blob version it commits to a journal for local Event Grid (the stack runs it)', load: () => import('./azurite.js') },
};

export async function main(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    const list = Object.entries(commands)
      .map(([key, { summary }]) => `  ${key.padEnd(10)} ${summary}`)
      .join('\n');
    console.error(`usage: bulkflow <command> [options]\n\ncommands:\n${list}`);
    process.exitCode = name ? 2 : 0;
    return;
  }
  const module = await command.load();
  let code: number;
  try {
    code = await module.run(args);
  } catch (error) {
    // A service that could not start says why in its message; a stack trace would bury it.
    console.error(`bulkflow ${name}: ${error instanceof Error ? error.message : String(error)}`);
    code = 1;
  }
  // Exit now rather than when the event loop drains: after a bounded shutdown, work that did not drain in time
  // (e.g. the in-process host's connections to a PostgreSQL that is gone) must not keep the process alive.
  process.stdout.write('', () => process.exit(code));
}

