/** Entry point of `npx bulkflow <command>`; each command lives in its own module, loaded on demand. */
type Command = { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  eventhubs: { summary: 'run the local Event Hubs endpoint (AMQP on port 5672)', load: () => import('./eventhubs.js') },
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
  process.exitCode = await module.run(args);
}
