import type { Server } from 'node:net';
import rhea, { type AmqpError, type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import { acceptToken, ClaimError, covers } from './claims.js';
import { ConsumerLink } from './consumerLink.js';
import { EventHub } from './eventHub.js';
import { MalformedMessageError, unpackTransfer } from './eventMessages.js';
import { validateHubsConfig, type HubsConfig } from './hubConfig.js';
import type { FsyncPolicy } from './partitionLog.js';
import { FilterError, parseStartPosition, selectorExpression, type StartPosition } from './startPosition.js';

export interface EventHubsEndpointOptions {
  /** TCP port on loopback; 5672 (the SDK's emulator default) when omitted, 0 for any free port. */
  port?: number;
  /** Where partition logs live (`.data/eventhubs` for the CLI). */
  dataDir: string;
  hubs: HubsConfig;
  fsync?: FsyncPolicy;
  /** Structured, quiet log sink: ids and counts only, never event bodies. */
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface EventHubsEndpoint {
  port: number;
  /** Emulator connection string for one hub, usable unmodified with @azure/event-hubs. */
  connectionString(hub: string): string;
  stop(): Promise<void>;
}

/** The largest transfer the endpoint accepts, as on the service's Standard tier. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
const PRODUCER_CREDIT = 32;
const REQUEST_CREDIT = 100;
const RETENTION_SWEEP_MS = 60_000;
const EPOCH_PROPERTY = 'com.microsoft:epoch';
const CBS = '$cbs';
const MANAGEMENT = '$management';

interface ConnectionState {
  /** Entity paths granted by accepted put-token requests. */
  grants: Set<string>;
  /** Reply links of request/response nodes ($cbs, $management), by link name (= the requester's reply-to). */
  replyLinks: Map<string, Sender>;
}

type ProducerTarget = { hub: EventHub; partition: number | undefined; path: string };

/** The attach frame rhea will send back; fields set in the open handler go out with it. */
function localAttach(link: Sender | Receiver): { max_message_size?: number; snd_settle_mode?: number } {
  return (link as unknown as { local: { attach: { max_message_size?: number; snd_settle_mode?: number } } }).local.attach;
}

class RefusedError extends Error {
  constructor(
    readonly condition: string,
    description: string,
  ) {
    super(description);
  }
  get amqp(): AmqpError {
    return { condition: this.condition, description: this.message };
  }
}

export async function startEventHubsEndpoint(options: EventHubsEndpointOptions): Promise<EventHubsEndpoint> {
  const log = options.log ?? (() => undefined);
  const config = validateHubsConfig(options.hubs);
  const hubs = new Map<string, EventHub>();
  for (const [name, hubConfig] of Object.entries(config)) {
    hubs.set(name.toLowerCase(), await EventHub.open(options.dataDir, name, hubConfig, options.fsync ?? 'always'));
  }
  const states = new WeakMap<Connection, ConnectionState>();
  const producers = new WeakMap<Receiver, ProducerTarget>();
  const consumers = new Map<Sender, { key: string; link: ConsumerLink }>();
  const consumersByPartition = new Map<string, Set<ConsumerLink>>();
  const connections = new Set<Connection>();

  const stateOf = (connection: Connection): ConnectionState => {
    let state = states.get(connection);
    if (!state) {
      state = { grants: new Set(), replyLinks: new Map() };
      states.set(connection, state);
    }
    return state;
  };

  const notFound = (entity: string): RefusedError =>
    new RefusedError('amqp:not-found', `The messaging entity '${entity}' could not be found.`);

  const hubNamed = (name: string): EventHub => {
    const hub = hubs.get(name.toLowerCase());
    if (!hub) throw notFound(name);
    return hub;
  };

  const requireGrant = (connection: Connection, path: string): void => {
    const grants = stateOf(connection).grants;
    for (const granted of grants) if (covers(granted, path)) return;
    throw new RefusedError('amqp:unauthorized-access', `Unauthorized access to '${path}': no put-token on $cbs covers it.`);
  };

  /** Checks that the entities an audience names exist (the service answers 404 on put-token). */
  const checkAudienceEntities = (path: string): void => {
    if (path === '') return;
    const [hubName = '', ...rest] = path.split('/');
    const hub = hubNamed(hubName);
    const groupIndex = rest.indexOf('consumergroups');
    const group = groupIndex >= 0 ? rest[groupIndex + 1] : undefined;
    if (group !== undefined && !hub.hasConsumerGroup(group)) throw notFound(`${hub.name}/ConsumerGroups/${group}`);
  };

  const addressOf = (terminus: unknown): string => {
    const address = (terminus as { address?: unknown } | undefined)?.address;
    if (typeof address !== 'string' || address.length === 0) throw new RefusedError('amqp:invalid-field', 'link without an address');
    return address.replace(/^amqps?:\/\/[^/]+\//i, '');
  };

  const producerTarget = (address: string): ProducerTarget => {
    const match = /^([^/]+)(?:\/Partitions\/([^/]+))?$/i.exec(address);
    if (!match?.[1]) throw notFound(address);
    const hub = hubNamed(match[1]);
    const partitionId = match[2];
    if (partitionId !== undefined && !hub.partition(partitionId)) {
      throw new RefusedError('com.microsoft:argument-out-of-range', `Partition '${partitionId}' does not exist in '${hub.name}'; valid ids are 0 to ${hub.partitions.length - 1}.`);
    }
    return { hub, partition: partitionId === undefined ? undefined : Number(partitionId), path: address.toLowerCase() };
  };

  // --- request/response nodes ------------------------------------------------------------------

  const reply = (context: EventContext, request: Message, status: number, description: string, body?: unknown): void => {
    const replyTo = typeof request.reply_to === 'string' ? request.reply_to : undefined;
    const link = replyTo ? stateOf(context.connection).replyLinks.get(replyTo) : undefined;
    if (!link) {
      log('eventhubs.request.unroutable', { node: context.receiver?.name });
      return;
    }
    link.send({
      correlation_id: request.message_id,
      to: replyTo,
      application_properties: { 'status-code': status, 'status-description': description },
      body: body ?? null,
    });
  };

  const handleCbs = (context: EventContext, request: Message): void => {
    const properties = (request.application_properties ?? {}) as Record<string, unknown>;
    if (properties.operation !== 'put-token') {
      reply(context, request, 400, `unsupported $cbs operation ${String(properties.operation)}`);
      return;
    }
    const audience = String(properties.name ?? '');
    try {
      const path = acceptToken(audience, request.body, properties.type);
      checkAudienceEntities(path);
      stateOf(context.connection).grants.add(path);
      reply(context, request, 202, 'Accepted');
    } catch (error) {
      if (error instanceof ClaimError) {
        log('eventhubs.cbs.rejected', { reason: error.message });
        reply(context, request, 401, `InvalidSignature: ${error.message}`);
      } else if (error instanceof RefusedError) {
        reply(context, request, 404, error.message);
      } else throw error;
    }
  };

  const handleManagement = (context: EventContext, request: Message): void => {
    const properties = (request.application_properties ?? {}) as Record<string, unknown>;
    if (properties.operation !== 'READ') {
      reply(context, request, 400, `unsupported $management operation ${String(properties.operation)}`);
      return;
    }
    try {
      const hub = hubNamed(String(properties.name ?? ''));
      requireGrant(context.connection, `${hub.name.toLowerCase()}/${MANAGEMENT}`);
      if (properties.type === 'com.microsoft:eventhub') {
        const hubProperties = hub.properties();
        reply(context, request, 200, 'OK', {
          name: hubProperties.name,
          type: 'com.microsoft:eventhub',
          created_at: hubProperties.createdOn,
          partition_count: hubProperties.partitionIds.length,
          partition_ids: hubProperties.partitionIds,
        });
      } else if (properties.type === 'com.microsoft:partition') {
        const partitionId = String(properties.partition ?? '');
        const partition = hub.partitionProperties(partitionId);
        if (!partition) throw new RefusedError('com.microsoft:argument-out-of-range', `Partition '${partitionId}' does not exist in '${hub.name}'.`);
        reply(context, request, 200, 'OK', {
          name: partition.hub,
          type: 'com.microsoft:partition',
          partition: partition.partitionId,
          begin_sequence_number: rhea.types.wrap_long(partition.beginSequenceNumber),
          last_enqueued_sequence_number: rhea.types.wrap_long(partition.lastEnqueuedSequenceNumber),
          last_enqueued_offset: partition.lastEnqueuedOffset,
          last_enqueued_time_utc: partition.lastEnqueuedTime,
          is_partition_empty: partition.isEmpty,
        });
      } else {
        reply(context, request, 400, `unsupported $management type ${String(properties.type)}`);
      }
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      const status = error.condition === 'amqp:not-found' ? 404 : error.condition === 'amqp:unauthorized-access' ? 401 : 400;
      reply(context, request, status, error.message);
    }
  };

  // --- producers -------------------------------------------------------------------------------

  const openProducer = (receiver: Receiver, connection: Connection): void => {
    const address = addressOf(receiver.target);
    if (address === CBS || address === MANAGEMENT) {
      receiver.add_credit(REQUEST_CREDIT);
      return;
    }
    const target = producerTarget(address);
    requireGrant(connection, target.path);
    producers.set(receiver, target);
    localAttach(receiver).max_message_size = MAX_MESSAGE_BYTES;
    receiver.add_credit(PRODUCER_CREDIT);
  };

  const publish = (context: EventContext, target: ProducerTarget): void => {
    const receiver = context.receiver!;
    const delivery = context.delivery!;
    const payload = context.message as unknown as Buffer;
    const format = (context as unknown as { format?: number }).format ?? 0;
    const settle = (outcome: () => void): void => {
      // The producer may have gone while the write was in flight; then there is no one to tell.
      if (!receiver.is_open()) return;
      outcome();
      receiver.add_credit(1);
    };
    if (payload.length > MAX_MESSAGE_BYTES) {
      settle(() => delivery.reject({
        condition: 'amqp:link:message-size-exceeded',
        description: `The received message (delivery-id:${delivery.id}, size:${payload.length} bytes) exceeds the limit (${MAX_MESSAGE_BYTES} bytes) currently allowed on the link.`,
      }));
      return;
    }
    let unpacked;
    try {
      unpacked = unpackTransfer(payload, format);
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      settle(() => delivery.reject({ condition: 'amqp:decode-error', description: error.message }));
      return;
    }
    const partition = target.partition ?? target.hub.route(unpacked.partitionKey);
    Promise.resolve(unpacked).then((events) => target.hub.publish(partition, events.messages, events.partitionKey)).then(
      () => settle(() => delivery.accept()),
      (error: unknown) => {
        log('eventhubs.publish.failed', { hub: target.hub.name, partition, reason: (error as Error).message });
        settle(() => delivery.reject({ condition: 'amqp:internal-error', description: 'the event could not be stored' }));
      },
    );
  };

  // --- consumers -------------------------------------------------------------------------------

  const startSequence = (hub: EventHub, partitionId: string, position: StartPosition): number => {
    const partitionLog = hub.partition(partitionId)!;
    switch (position.kind) {
      case 'latest':
        return partitionLog.committedSequence + 1;
      case 'sequence':
        return Math.max(position.inclusive ? position.value : position.value + 1, partitionLog.beginSequence);
      case 'offset':
        return position.value < 0 ? partitionLog.beginSequence : partitionLog.sequenceAfterOffset(position.value, position.inclusive);
      case 'time':
        return partitionLog.sequenceAfterTime(position.inclusive ? position.value - 1 : position.value);
    }
  };

  const closeConsumer = (sender: Sender, error?: AmqpError): void => {
    const entry = consumers.get(sender);
    if (!entry) return;
    consumers.delete(sender);
    entry.link.close();
    consumersByPartition.get(entry.key)?.delete(entry.link);
    if (error && sender.is_open()) sender.close(error);
  };

  /** Owner-level (epoch) receivers: an equal or higher epoch takes the partition over. */
  const admitConsumer = (key: string, ownerLevel: number | undefined): ConsumerLink[] => {
    const current = [...(consumersByPartition.get(key) ?? [])];
    const highest = Math.max(-1, ...current.map((link) => link.ownerLevel ?? -1));
    if (ownerLevel === undefined) {
      if (highest >= 0) throw new RefusedError('amqp:link:stolen', `A receiver with epoch '${highest}' already exists; a receiver without an epoch cannot be created.`);
      return [];
    }
    if (ownerLevel < highest) {
      throw new RefusedError('amqp:link:stolen', `A receiver with a higher epoch of '${highest}' already exists; the receiver with epoch '${ownerLevel}' cannot be created.`);
    }
    return current;
  };

  const openConsumer = (sender: Sender, connection: Connection): void => {
    const address = addressOf(sender.source);
    if (address === CBS || address === MANAGEMENT) {
      stateOf(connection).replyLinks.set(sender.name, sender);
      return;
    }
    const match = /^([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(address);
    if (!match) throw notFound(address);
    const [, hubName = '', group = '', partitionId = ''] = match;
    const hub = hubNamed(hubName);
    if (!hub.hasConsumerGroup(group)) throw notFound(`${hub.name}/ConsumerGroups/${group}`);
    const partitionLog = hub.partition(partitionId);
    if (!partitionLog) throw new RefusedError('com.microsoft:argument-out-of-range', `Partition '${partitionId}' does not exist in '${hub.name}'.`);
    requireGrant(connection, address.toLowerCase());
    let position: StartPosition;
    try {
      position = parseStartPosition(selectorExpression((sender.source as { filter?: unknown } | undefined)?.filter));
    } catch (error) {
      if (error instanceof FilterError) throw new RefusedError('amqp:invalid-field', error.message);
      throw error;
    }
    const epochValue = (sender.properties as Record<string, unknown> | undefined)?.[EPOCH_PROPERTY];
    const ownerLevel = epochValue === undefined || epochValue === null ? undefined : Number(epochValue);
    const key = `${hub.name.toLowerCase()}/${group.toLowerCase()}/${partitionId}`;
    for (const displaced of admitConsumer(key, ownerLevel)) {
      const entry = [...consumers.entries()].find(([, value]) => value.link === displaced);
      if (entry) {
        closeConsumer(entry[0], {
          condition: 'amqp:link:stolen',
          description: `New receiver with higher epoch of '${ownerLevel}' is created hence current receiver with epoch '${displaced.ownerLevel ?? 'none'}' is getting disconnected.`,
        });
      }
    }
    // Deliveries go out settled: Event Hubs receivers track position, not per-event acknowledgements.
    localAttach(sender).snd_settle_mode = 1;
    const link = new ConsumerLink(sender, partitionLog, startSequence(hub, partitionId, position), ownerLevel, (error) => {
      log('eventhubs.consumer.failed', { hub: hub.name, partition: partitionId, reason: (error as Error).message });
      closeConsumer(sender, { condition: 'amqp:internal-error', description: 'reading the partition failed' });
    });
    consumers.set(sender, { key, link });
    let partitionSet = consumersByPartition.get(key);
    if (!partitionSet) consumersByPartition.set(key, (partitionSet = new Set()));
    partitionSet.add(link);
    link.pump();
  };

  // --- wiring ----------------------------------------------------------------------------------

  const container = rhea.create_container({ id: 'bulkflow-eventhubs' });
  container.sasl_server_mechanisms.enable_anonymous();
  (container.sasl_server_mechanisms as unknown as { enable_plain(verify: () => boolean): void }).enable_plain(() => true);

  const refuse = (link: Sender | Receiver, error: unknown): void => {
    if (!(error instanceof RefusedError)) throw error;
    log('eventhubs.link.refused', { link: link.name, condition: error.condition });
    link.close(error.amqp);
  };

  container.on('connection_open', (context: EventContext) => {
    connections.add(context.connection);
  });
  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver!;
    try {
      openProducer(receiver, context.connection);
    } catch (error) {
      refuse(receiver, error);
    }
  });
  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender!;
    try {
      openConsumer(sender, context.connection);
    } catch (error) {
      refuse(sender, error);
    }
  });
  container.on('message', (context: EventContext) => {
    const receiver = context.receiver!;
    const target = producers.get(receiver);
    if (target) {
      publish(context, target);
      return;
    }
    const message = context.message!;
    const node = addressOf(receiver.target);
    (context.delivery as Delivery).accept();
    receiver.add_credit(1);
    if (node === CBS) handleCbs(context, message);
    else handleManagement(context, message);
  });
  container.on('sendable', (context: EventContext) => {
    consumers.get(context.sender!)?.link.pump();
  });
  const forgetSender = (context: EventContext): void => {
    if (context.sender) closeConsumer(context.sender);
  };
  container.on('sender_close', forgetSender);
  container.on('sender_error', forgetSender);
  const forgetConnection = (context: EventContext): void => {
    connections.delete(context.connection);
    for (const [sender] of consumers) if (sender.connection === context.connection) closeConsumer(sender);
  };
  container.on('connection_close', forgetConnection);
  container.on('disconnected', forgetConnection);
  // Link and connection errors are the client's business; the endpoint keeps serving.
  container.on('error', (error: unknown) => log('eventhubs.amqp.error', { reason: (error as Error).message }));

  const servers: Server[] = [];
  const listen = (host: string, port: number): Promise<Server> =>
    new Promise((resolve, reject) => {
      const server = container.listen({ host, port, autoaccept: false, credit_window: 0, tcp_no_delay: true } as never) as unknown as Server;
      server.once('listening', () => resolve(server));
      server.once('error', reject);
    });
  const primary = await listen('127.0.0.1', options.port ?? 5672);
  servers.push(primary);
  const address = primary.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 5672);
  // "localhost" may resolve to ::1 first; serve it too where the machine has IPv6.
  await listen('::1', port).then((server) => servers.push(server), () => undefined);

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
        for (const [sender] of consumers) closeConsumer(sender);
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
