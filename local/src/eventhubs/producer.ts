import type { Connection, EventContext, Receiver } from 'rhea';
import type { EventHub } from './eventHub.js';
import { MalformedMessageError, unpackTransfer } from './eventMessages.js';
import { addressOf, localAttach, notFound, partitionOutOfRange, type Namespace } from './namespace.js';

/** The largest transfer the endpoint accepts, as on the service's Standard tier. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
const PRODUCER_CREDIT = 32;

type ProducerTarget = { hub: EventHub; partition: number | undefined; path: string };

/** Producer links (`HUB` or `HUB/Partitions/N`): each transfer is stored, then settled. */
export class Producers {
  private readonly targets = new WeakMap<Receiver, ProducerTarget>();

  constructor(private readonly namespace: Namespace) {}

  open(receiver: Receiver, connection: Connection): void {
    const target = this.targetOf(addressOf(receiver.target));
    this.namespace.requireGrant(connection, target.path);
    this.targets.set(receiver, target);
    localAttach(receiver).max_message_size = MAX_MESSAGE_BYTES;
    receiver.add_credit(PRODUCER_CREDIT);
  }

  /** Stores a transfer on a producer link; false when the link is not a producer's. */
  publish(context: EventContext): boolean {
    const receiver = context.receiver!;
    const target = this.targets.get(receiver);
    if (!target) return false;
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
      return true;
    }
    let unpacked;
    try {
      unpacked = unpackTransfer(payload, format);
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      settle(() => delivery.reject({ condition: 'amqp:decode-error', description: error.message }));
      return true;
    }
    const partition = target.partition ?? target.hub.route(unpacked.partitionKey);
    Promise.resolve(unpacked).then((events) => target.hub.publish(partition, events.messages, events.partitionKey)).then(
      () => settle(() => delivery.accept()),
      (error: unknown) => {
        this.namespace.log('eventhubs.publish.failed', { hub: target.hub.name, partition, reason: (error as Error).message });
        settle(() => delivery.reject({ condition: 'amqp:internal-error', description: 'the event could not be stored' }));
      },
    );
    return true;
  }

  private targetOf(address: string): ProducerTarget {
    const match = /^([^/]+)(?:\/Partitions\/([^/]+))?$/i.exec(address);
    if (!match?.[1]) throw notFound(address);
    const hub = this.namespace.hubNamed(match[1]);
    const partitionId = match[2];
    if (partitionId !== undefined && !hub.partition(partitionId)) {
      throw partitionOutOfRange(hub, partitionId, `; valid ids are 0 to ${hub.partitions.length - 1}`);
    }
    return { hub, partition: partitionId === undefined ? undefined : Number(partitionId), path: address.toLowerCase() };
  }
}
