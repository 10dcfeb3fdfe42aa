import { join } from 'node:path';
import { annotateForDelivery } from './eventMessages.js';
import type { HubConfig } from './hubConfig.js';
import { PartitionLog, type EventPosition, type FsyncPolicy } from './partitionLog.js';
import { partitionForKey } from './partitionKeys.js';

export interface HubProperties {
  name: string;
  createdOn: Date;
  partitionIds: string[];
}

export interface PartitionProperties {
  hub: string;
  partitionId: string;
  beginSequenceNumber: number;
  lastEnqueuedSequenceNumber: number;
  lastEnqueuedOffset: string;
  lastEnqueuedTime: Date;
  isEmpty: boolean;
}

/** One event hub: its partitions' logs, key routing and consumer groups. */
export class EventHub {
  private nextRoundRobin = 0;
  private readonly groups: Set<string>;

  private constructor(
    readonly name: string,
    readonly config: HubConfig,
    readonly partitions: PartitionLog[],
    readonly createdOn: Date,
  ) {
    this.groups = new Set(config.consumerGroups.map((group) => group.toLowerCase()));
  }

  static async open(dataDir: string, name: string, config: HubConfig, fsync: FsyncPolicy): Promise<EventHub> {
    const partitions: PartitionLog[] = [];
    for (let id = 0; id < config.partitions; id++) {
      partitions.push(await PartitionLog.open({ dir: join(dataDir, name, String(id)), retentionMs: config.retentionMs, fsync }));
    }
    return new EventHub(name, config, partitions, new Date());
  }

  hasConsumerGroup(name: string): boolean {
    return this.groups.has(name.toLowerCase());
  }

  /** The partition for a partition id as it appears in link addresses and requests ("0", "1", ...). */
  partition(id: string): PartitionLog | undefined {
    return /^\d+$/.test(id) ? this.partitions[Number(id)] : undefined;
  }

  /** Explicit partition id, else partition key hash, else round-robin. */
  route(partitionKey: string | undefined): number {
    if (partitionKey !== undefined) return partitionForKey(partitionKey, this.partitions.length);
    const partition = this.nextRoundRobin;
    this.nextRoundRobin = (partition + 1) % this.partitions.length;
    return partition;
  }

  /** Stores encoded messages in one partition; resolves once durable. */
  publish(partition: number, messages: Buffer[], partitionKey: string | undefined): Promise<EventPosition[]> {
    const log = this.partitions[partition];
    if (!log) return Promise.reject(new Error(`partition ${partition} does not exist in ${this.name}`));
    return log.append(messages.length, (index, position) => annotateForDelivery(messages[index]!, position, partitionKey));
  }

  properties(): HubProperties {
    return { name: this.name, createdOn: this.createdOn, partitionIds: this.partitions.map((_, id) => String(id)) };
  }

  partitionProperties(id: string): PartitionProperties | undefined {
    const log = this.partition(id);
    if (!log) return undefined;
    const last = log.lastEnqueued;
    return {
      hub: this.name,
      partitionId: id,
      beginSequenceNumber: log.beginSequence,
      lastEnqueuedSequenceNumber: last?.sequenceNumber ?? log.beginSequence - 1,
      lastEnqueuedOffset: last ? String(last.offset) : '-1',
      lastEnqueuedTime: new Date(last?.enqueuedTime ?? 0),
      isEmpty: last === undefined,
    };
  }

  async enforceRetention(): Promise<void> {
    for (const partition of this.partitions) await partition.enforceRetention();
  }

  async close(): Promise<void> {
    await Promise.all(this.partitions.map((partition) => partition.close()));
  }
}
