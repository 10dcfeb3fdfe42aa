import rhea from 'rhea';
import type { EventPosition } from './partitionLog.js';

const { types } = rhea;
// rhea's codec classes exist at runtime on `types` but its typings leave them off.
const codec = types as unknown as {
  Reader: new (buffer: Buffer) => { position: number; read(): unknown; remaining(): number };
  Writer: new () => { write(value: unknown): void; toBuffer(): Buffer };
  Map32(items: unknown[]): unknown;
};

/** AMQP message format of an Event Hubs batch: data sections each holding one encoded message. */
export const BATCH_FORMAT = 0x80013700;

const HEADER = 0x70;
const MESSAGE_ANNOTATIONS = 0x72;
const DATA = 0x75;

export const ANNOTATION = {
  partitionKey: 'x-opt-partition-key',
  sequenceNumber: 'x-opt-sequence-number',
  offset: 'x-opt-offset',
  enqueuedTime: 'x-opt-enqueued-time',
} as const;
const SERVICE_ANNOTATIONS = new Set<string>(Object.values(ANNOTATION));

interface Section {
  code: number;
  start: number;
  end: number;
  /** The decoded section (a described value); only read for the sections we look inside. */
  value: { value: unknown };
}

export class MalformedMessageError extends Error {}

/** Splits an encoded message into its sections, keeping each section's byte range. */
function sections(encoded: Buffer): Section[] {
  const reader = new codec.Reader(encoded);
  const found: Section[] = [];
  try {
    while (reader.remaining() > 0) {
      const start = reader.position;
      const section = reader.read() as { descriptor?: { value: unknown }; value: unknown };
      const code = Number(section.descriptor?.value);
      if (!section.descriptor || Number.isNaN(code)) throw new MalformedMessageError('message section without a numeric descriptor');
      found.push({ code, start, end: reader.position, value: section as { value: unknown } });
    }
  } catch (error) {
    if (error instanceof MalformedMessageError) throw error;
    throw new MalformedMessageError(`undecodable AMQP message: ${(error as Error).message}`);
  }
  return found;
}

/** Key/value pairs of a decoded map section as [key, typed value] with string keys. */
function mapEntries(section: Section): Array<[string, unknown]> {
  const items = Array.isArray(section.value.value) ? (section.value.value as unknown[]) : [];
  const entries: Array<[string, unknown]> = [];
  for (let index = 0; index + 1 < items.length; index += 2) {
    const key = items[index] as { value: unknown };
    entries.push([String(key.value), items[index + 1]]);
  }
  return entries;
}

function partitionKeyOf(all: Section[]): string | undefined {
  const annotations = all.find((section) => section.code === MESSAGE_ANNOTATIONS);
  if (!annotations) return undefined;
  const entry = mapEntries(annotations).find(([key]) => key === ANNOTATION.partitionKey);
  const value = (entry?.[1] as { value?: unknown } | undefined)?.value;
  return value === undefined || value === null ? undefined : String(value);
}

export interface IncomingEvents {
  partitionKey: string | undefined;
  /** Each event as its own encoded AMQP message. */
  messages: Buffer[];
}

/** Unpacks a transfer: a batch (format 0x80013700) into its inner messages, or a single message. */
export function unpackTransfer(payload: Buffer, format: number): IncomingEvents {
  const all = sections(payload);
  if (format === 0) return { partitionKey: partitionKeyOf(all), messages: [payload] };
  if (format !== BATCH_FORMAT) throw new MalformedMessageError(`unsupported message format ${format}`);
  const messages = all
    .filter((section) => section.code === DATA)
    .map((section) => section.value.value)
    .filter((value): value is Buffer => Buffer.isBuffer(value));
  if (messages.length === 0) throw new MalformedMessageError('batch message without data sections');
  // Decode each event now, so a bad one rejects the transfer before anything is stored.
  messages.forEach((message, index) => {
    try {
      sections(message);
    } catch (error) {
      throw new MalformedMessageError(`event ${index} of the batch: ${(error as Error).message}`);
    }
  });
  return { partitionKey: partitionKeyOf(all), messages };
}

/**
 * The message a consumer receives: the producer's message with the service annotations
 * (sequence number, offset, enqueued time, partition key) merged into its message annotations.
 */
export function annotateForDelivery(message: Buffer, position: EventPosition, partitionKey: string | undefined): Buffer {
  const all = sections(message);
  const original = all.find((section) => section.code === MESSAGE_ANNOTATIONS);
  const items: unknown[] = [];
  for (const [key, value] of original ? mapEntries(original) : []) {
    if (!SERVICE_ANNOTATIONS.has(key)) items.push(types.wrap_symbol(key), value);
  }
  items.push(types.wrap_symbol(ANNOTATION.sequenceNumber), types.wrap_long(position.sequenceNumber));
  items.push(types.wrap_symbol(ANNOTATION.offset), types.wrap_string(String(position.offset)));
  items.push(types.wrap_symbol(ANNOTATION.enqueuedTime), types.wrap_timestamp(position.enqueuedTime));
  if (partitionKey !== undefined) items.push(types.wrap_symbol(ANNOTATION.partitionKey), types.wrap_string(partitionKey));
  const writer = new codec.Writer();
  writer.write(types.described_nc(types.wrap_ulong(MESSAGE_ANNOTATIONS), codec.Map32(items)));
  const annotations = writer.toBuffer();

  // Section order is fixed by the spec: header, (delivery-annotations, which are per hop and
  // dropped here), message-annotations, the rest.
  const before = all.filter((section) => section.code === HEADER);
  const after = all.filter((section) => section.code > MESSAGE_ANNOTATIONS);
  return Buffer.concat([
    ...before.map((section) => message.subarray(section.start, section.end)),
    annotations,
    ...after.map((section) => message.subarray(section.start, section.end)),
  ]);
}
