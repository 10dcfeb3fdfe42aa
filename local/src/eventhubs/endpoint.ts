import type { Server } from 'node:net';
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import { handleCbs } from './cbs.js';
import { Consumers } from './consumer.js';
import { EventHub } from './eventHub.js';
import { validateHubsConfig, type HubsConfig } from './hubConfig.js';
import { handleManagement } from './management.js';
import { addressOf, CBS, isRequestNode, Namespace, RefusedError, type EndpointLog } from './namespace.js';
import type { FsyncPolicy } from './partitionLog.js';
import { Producers } from './producer.js';

export interface EventHubsEndpointOptions {
  /** TCP port on loopback; 5672 (the SDK's emulator default) when omitted, 0 for any free port. */
  port?: number;
  /** Where partition logs live (`.data/eventhubs` for the CLI). */
  dataDir: string;
  hubs: HubsConfig;
  fsync?: FsyncPolicy;
  /** Structured, quiet log sink: ids and counts only, never event bodies. */
  log?: EndpointLog;
}

export interface EventHubsEndpoint {
  port: number;
  /** Emulator connection string for one hub, usable unmodified with @azure/event-hubs. */
  connectionString(hub: string): string;
  stop(): Promise<void>;
}

const REQUEST_CREDIT = 100;
const RETENTION_SWEEP_MS = 60_000;

/**
 * Routes the AMQP container's events: links to `$cbs`/`$management` carry requests and their replies, other
 * receiving links are producers, other sending links consumers. Returns the open connections.
 */
function serve(container: Container, namespace: Namespace, producers: Producers, consumers: Consumers): Set<Connection> {
  const connections = new Set<Connection>();
  const refusing = (link: Sender | Receiver, open: () => void): void => {
    try {
      open();
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      namespace.log('eventhubs.link.refused', { link: link.name, condition: error.condition });
      link.close(error.amqp);
    }
  };
  container.on('connection_open', (context: EventContext) => {
    connections.add(context.connection);
  });
  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver!;
    refusing(receiver, () => {
      if (isRequestNode(addressOf(receiver.target))) receiver.add_credit(REQUEST_CREDIT);
      else producers.open(receiver, context.connection);
    });
  });
  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender!;
    refusing(sender, () => {
      if (isRequestNode(addressOf(sender.source))) namespace.addReplyLink(context.connection, sender);
      else consumers.open(sender, context.connection);
    });
  });
  container.on('message', (context: EventContext) => {
    if (producers.publish(context)) return;
    const receiver = context.receiver!;
    (context.delivery as Delivery).accept();
    receiver.add_credit(1);
    if (addressOf(receiver.target) === CBS) handleCbs(namespace, context, context.message!);
    else handleManagement(namespace, context, context.message!);
  });
  container.on('sendable', (context: EventContext) => consumers.pump(context.sender!));
  const forgetSender = (context: EventContext): void => {
    if (context.sender) consumers.close(context.sender);
  };
  container.on('sender_close', forgetSender);
  container.on('sender_error', forgetSender);
  const forgetConnection = (context: EventContext): void => {
    connections.delete(context.connection);
    consumers.closeAll(context.connection);
  };
  container.on('connection_close', forgetConnection);
  container.on('disconnected', forgetConnection);
  // Link and connection errors are the client's business; the endpoint keeps serving.
  container.on('error', (error: unknown) => namespace.log('eventhubs.amqp.error', { reason: (error as Error).message }));
  return connections;
}

/** Listens on 127.0.0.1 and, where the machine has IPv6, on ::1 at the same port ("localhost" may resolve to either). */
async function listenOnLoopback(container: Container, requestedPort: number): Promise<{ port: number; servers: Server[] }> {
  const listen = (host: string, port: number): Promise<Server> =>
    new Promise((resolve, reject) => {
      const server = container.listen({ host, port, autoaccept: false, credit_window: 0, tcp_no_delay: true } as never) as unknown as Server;
      server.once('listening', () => resolve(server));
      server.once('error', reject);
    });
  const primary = await listen('127.0.0.1', requestedPort);
  const servers = [primary];
  const address = primary.address();
  const port = typeof address === 'object' && address ? address.port : requestedPort;
  await listen('::1', port).then((server) => servers.push(server), () => undefined);
  return { port, servers };
}

export async function startEventHubsEndpoint(options: EventHubsEndpointOptions): Promise<EventHubsEndpoint> {
  const log = options.log ?? (() => undefined);
  const hubs = new Map<string, EventHub>();
  for (const [name, hubConfig] of Object.entries(validateHubsConfig(options.hubs))) {
    hubs.set(name.toLowerCase(), await EventHub.open(options.dataDir, name, hubConfig, options.fsync ?? 'always'));
  }
  const namespace = new Namespace(hubs, log);
  const consumers = new Consumers(namespace);

  const container = rhea.create_container({ id: 'bulkflow-eventhubs' });
  container.sasl_server_mechanisms.enable_anonymous();
  (container.sasl_server_mechanisms as unknown as { enable_plain(verify: () => boolean): void }).enable_plain(() => true);
  const connections = serve(container, namespace, new Producers(namespace), consumers);
  const { port, servers } = await listenOnLoopback(container, options.port ?? 5672);

  const sweep = setInterval(() => {
    for (const hub of hubs.values()) void hub.enforceRetention().catch((error: unknown) => log('eventhubs.retention.failed', { hub: hub.name, reason: (error as Error).message }));
  }, RETENTION_SWEEP_MS);
  sweep.unref();
  log('eventhubs.listening', { port, hubs: [...hubs.values()].map((hub) => hub.name) });

  let stopping: Promise<void> | undefined;
  return {
    port,
    connectionString: (hub: string) => {
      if (!hubs.has(hub.toLowerCase())) throw new Error(`unknown event hub "${hub}"; configured: ${[...hubs.values()].map((h) => h.name).join(', ')}`);
      return `Endpoint=sb://localhost:${port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;EntityPath=${hub}`;
    },
    stop: () => {
      stopping ??= (async () => {
        clearInterval(sweep);
        const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
        consumers.closeAll();
        for (const connection of connections) connection.close();
        // Give the close frames a moment to go out, then drop whatever is still connected.
        await new Promise((resolve) => setTimeout(resolve, 50));
        for (const connection of connections) (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
        await closed;
        for (const hub of hubs.values()) await hub.close();
      })();
      return stopping;
    },
  };
}
