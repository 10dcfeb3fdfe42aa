import type { AmqpError, Connection, EventContext, Message, Receiver, Sender } from 'rhea';
import { covers } from './claims.js';
import type { EventHub } from './eventHub.js';

/** Structured, quiet log sink: ids and counts only, never event bodies. */
export type EndpointLog = (event: string, fields?: Record<string, unknown>) => void;

/** The request/response nodes: the claims-based security node and the management node. */
export const CBS = '$cbs';
export const MANAGEMENT = '$management';

export const isRequestNode = (address: string): boolean => address === CBS || address === MANAGEMENT;

/** A link or request the endpoint turns down, with the AMQP condition the service uses for it. */
export class RefusedError extends Error {
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

export const notFound = (entity: string): RefusedError =>
  new RefusedError('amqp:not-found', `The messaging entity '${entity}' could not be found.`);

export const partitionOutOfRange = (hub: EventHub, partitionId: string, detail = ''): RefusedError =>
  new RefusedError('com.microsoft:argument-out-of-range', `Partition '${partitionId}' does not exist in '${hub.name}'${detail}.`);

/** A link's entity path without the `amqps://host/` prefix the SDK puts on it. */
export function addressOf(terminus: unknown): string {
  const address = (terminus as { address?: unknown } | undefined)?.address;
  if (typeof address !== 'string' || address.length === 0) throw new RefusedError('amqp:invalid-field', 'link without an address');
  return address.replace(/^amqps?:\/\/[^/]+\//i, '');
}

/** The attach frame rhea will send back; fields set in the open handler go out with it. */
export function localAttach(link: Sender | Receiver): { max_message_size?: number; snd_settle_mode?: number } {
  return (link as unknown as { local: { attach: { max_message_size?: number; snd_settle_mode?: number } } }).local.attach;
}

interface ConnectionState {
  /** Entity paths granted by accepted put-token requests. */
  grants: Set<string>;
  /** Reply links of request/response nodes ($cbs, $management), by link name (= the requester's reply-to). */
  replyLinks: Map<string, Sender>;
}

/**
 * The hubs the endpoint serves and what each AMQP connection holds (its grants, its reply links): what the
 * request nodes, producers and consumers look up.
 */
export class Namespace {
  private readonly states = new WeakMap<Connection, ConnectionState>();

  constructor(
    readonly hubs: ReadonlyMap<string, EventHub>,
    readonly log: EndpointLog,
  ) {}

  /** The hub of that name (names are case-insensitive, as on the service). */
  hubNamed(name: string): EventHub {
    const hub = this.hubs.get(name.toLowerCase());
    if (!hub) throw notFound(name);
    return hub;
  }

  grant(connection: Connection, path: string): void {
    this.stateOf(connection).grants.add(path);
  }

  requireGrant(connection: Connection, path: string): void {
    for (const granted of this.stateOf(connection).grants) if (covers(granted, path)) return;
    throw new RefusedError('amqp:unauthorized-access', `Unauthorized access to '${path}': no put-token on $cbs covers it.`);
  }

  /** A requester's receiving link: replies go to it by the name its requests give as reply-to. */
  addReplyLink(connection: Connection, sender: Sender): void {
    this.stateOf(connection).replyLinks.set(sender.name, sender);
  }

  reply(context: EventContext, request: Message, status: number, description: string, body?: unknown): void {
    const replyTo = typeof request.reply_to === 'string' ? request.reply_to : undefined;
    const link = replyTo ? this.stateOf(context.connection).replyLinks.get(replyTo) : undefined;
    if (!link) {
      this.log('eventhubs.request.unroutable', { node: context.receiver?.name });
      return;
    }
    link.send({
      correlation_id: request.message_id,
      to: replyTo,
      application_properties: { 'status-code': status, 'status-description': description },
      body: body ?? null,
    });
  }

  private stateOf(connection: Connection): ConnectionState {
    let state = this.states.get(connection);
    if (!state) {
      state = { grants: new Set(), replyLinks: new Map() };
      this.states.set(connection, state);
    }
    return state;
  }
}
