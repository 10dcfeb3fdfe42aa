import pg from 'pg';
import { CHANNELS, type Channel } from './durable/store.js';
import type { HostLogger } from './logger.js';

/** One LISTEN connection that wakes the worker loops when work is queued (by this or another host). */
export async function listen(databaseUrl: string, schema: string, wake: Record<Channel, () => void>, logger: HostLogger): Promise<{ close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const byChannel = new Map<string, () => void>();
  for (const [channel, name] of Object.entries(CHANNELS) as Array<[Channel, string]>) {
    byChannel.set(`${schema}_${name}`, wake[channel]);
    await client.query(`LISTEN "${schema}_${name}"`);
  }
  client.on('notification', (message) => byChannel.get(message.channel)?.());
  client.on('error', (error) => logger.warn('notification connection lost; workers fall back to polling', { error: error.message }));
  return { close: () => client.end() };
}
