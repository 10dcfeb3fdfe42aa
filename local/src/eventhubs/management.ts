import rhea, { type EventContext, type Message } from 'rhea';
import type { EventHub } from './eventHub.js';
import { MANAGEMENT, partitionOutOfRange, RefusedError, type Namespace } from './namespace.js';

function hubBody(hub: EventHub): Record<string, unknown> {
  const properties = hub.properties();
  return {
    name: properties.name,
    type: 'com.microsoft:eventhub',
    created_at: properties.createdOn,
    partition_count: properties.partitionIds.length,
    partition_ids: properties.partitionIds,
  };
}

function partitionBody(hub: EventHub, partitionId: string): Record<string, unknown> {
  const partition = hub.partitionProperties(partitionId);
  if (!partition) throw partitionOutOfRange(hub, partitionId);
  return {
    name: partition.hub,
    type: 'com.microsoft:partition',
    partition: partition.partitionId,
    begin_sequence_number: rhea.types.wrap_long(partition.beginSequenceNumber),
    last_enqueued_sequence_number: rhea.types.wrap_long(partition.lastEnqueuedSequenceNumber),
    last_enqueued_offset: partition.lastEnqueuedOffset,
    last_enqueued_time_utc: partition.lastEnqueuedTime,
    is_partition_empty: partition.isEmpty,
  };
}

/** A request to the `$management` node: READ of a hub's or a partition's properties. */
export function handleManagement(namespace: Namespace, context: EventContext, request: Message): void {
  const properties = (request.application_properties ?? {}) as Record<string, unknown>;
  if (properties.operation !== 'READ') {
    namespace.reply(context, request, 400, `unsupported $management operation ${String(properties.operation)}`);
    return;
  }
  try {
    const hub = namespace.hubNamed(String(properties.name ?? ''));
    namespace.requireGrant(context.connection, `${hub.name.toLowerCase()}/${MANAGEMENT}`);
    if (properties.type === 'com.microsoft:eventhub') {
      namespace.reply(context, request, 200, 'OK', hubBody(hub));
    } else if (properties.type === 'com.microsoft:partition') {
      namespace.reply(context, request, 200, 'OK', partitionBody(hub, String(properties.partition ?? '')));
    } else {
      namespace.reply(context, request, 400, `unsupported $management type ${String(properties.type)}`);
    }
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    const status = error.condition === 'amqp:not-found' ? 404 : error.condition === 'amqp:unauthorized-access' ? 401 : 400;
    namespace.reply(context, request, status, error.message);
  }
}
