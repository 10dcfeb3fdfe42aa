import type { AmqpError, Connection, Sender } from 'rhea';
import { ConsumerLink } from './consumerLink.js';
import type { EventHub } from './eventHub.js';
import { addressOf, localAttach, notFound, partitionOutOfRange, RefusedError, type Namespace } from './namespace.js';
import { FilterError, parseStartPosition, selectorExpression, type StartPosition } from './startPosition.js';

const EPOCH_PROPERTY = 'com.microsoft:epoch';

function startSequence(hub: EventHub, partitionId: string, position: StartPosition): number {
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
}

function startPositionOf(sender: Sender): StartPosition {
  try {
    return parseStartPosition(selectorExpression((sender.source as { filter?: unknown } | undefined)?.filter));
  } catch (error) {
    if (error instanceof FilterError) throw new RefusedError('amqp:invalid-field', error.message);
    throw error;
  }
}

function ownerLevelOf(sender: Sender): number | undefined {
  const epochValue = (sender.properties as Record<string, unknown> | undefined)?.[EPOCH_PROPERTY];
  return epochValue === undefined || epochValue === null ? undefined : Number(epochValue);
}

/** Consumer links (`HUB/ConsumerGroups/CG/Partitions/N`), by sender and by partition of a consumer group. */
export class Consumers {
  private readonly links = new Map<Sender, { key: string; link: ConsumerLink }>();
  private readonly byPartition = new Map<string, Set<ConsumerLink>>();

  constructor(private readonly namespace: Namespace) {}

  open(sender: Sender, connection: Connection): void {
    const address = addressOf(sender.source);
    const match = /^([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(address);
    if (!match) throw notFound(address);
    const [, hubName = '', group = '', partitionId = ''] = match;
    const hub = this.namespace.hubNamed(hubName);
    if (!hub.hasConsumerGroup(group)) throw notFound(`${hub.name}/ConsumerGroups/${group}`);
    const partitionLog = hub.partition(partitionId);
    if (!partitionLog) throw partitionOutOfRange(hub, partitionId);
    this.namespace.requireGrant(connection, address.toLowerCase());
    const position = startPositionOf(sender);
    const ownerLevel = ownerLevelOf(sender);
    const key = `${hub.name.toLowerCase()}/${group.toLowerCase()}/${partitionId}`;
    this.displaceFor(key, ownerLevel);
    // Deliveries go out settled: Event Hubs receivers track position, not per-event acknowledgements.
    localAttach(sender).snd_settle_mode = 1;
    const link = new ConsumerLink(sender, partitionLog, startSequence(hub, partitionId, position), ownerLevel, (error) => {
      this.namespace.log('eventhubs.consumer.failed', { hub: hub.name, partition: partitionId, reason: (error as Error).message });
      this.close(sender, { condition: 'amqp:internal-error', description: 'reading the partition failed' });
    });
    this.links.set(sender, { key, link });
    let partitionSet = this.byPartition.get(key);
    if (!partitionSet) this.byPartition.set(key, (partitionSet = new Set()));
    partitionSet.add(link);
    link.pump();
  }

  /** The sender has credit again: deliver what it may take. */
  pump(sender: Sender): void {
    this.links.get(sender)?.link.pump();
  }

  close(sender: Sender, error?: AmqpError): void {
    const entry = this.links.get(sender);
    if (!entry) return;
    this.links.delete(sender);
    entry.link.close();
    this.byPartition.get(entry.key)?.delete(entry.link);
    if (error && sender.is_open()) sender.close(error);
  }

  /** Closes the consumers of one connection, or all of them. */
  closeAll(connection?: Connection): void {
    for (const [sender] of this.links) if (connection === undefined || sender.connection === connection) this.close(sender);
  }

  /**
   * Owner-level (epoch) receivers: an equal or higher epoch takes the partition over, detaching the receivers
   * there; a lower one, or none while an epoch receiver holds it, is refused.
   */
  private displaceFor(key: string, ownerLevel: number | undefined): void {
    const current = [...(this.byPartition.get(key) ?? [])];
    const highest = Math.max(-1, ...current.map((link) => link.ownerLevel ?? -1));
    if (ownerLevel === undefined) {
      if (highest >= 0) throw new RefusedError('amqp:link:stolen', `A receiver with epoch '${highest}' already exists; a receiver without an epoch cannot be created.`);
      return;
    }
    if (ownerLevel < highest) {
      throw new RefusedError('amqp:link:stolen', `A receiver with a higher epoch of '${highest}' already exists; the receiver with epoch '${ownerLevel}' cannot be created.`);
    }
    for (const displaced of current) {
      const entry = [...this.links.entries()].find(([, value]) => value.link === displaced);
      if (entry) {
        this.close(entry[0], {
          condition: 'amqp:link:stolen',
          description: `New receiver with higher epoch of '${ownerLevel}' is created hence current receiver with epoch '${displaced.ownerLevel ?? 'none'}' is getting disconnected.`,
        });
      }
    }
  }
}
