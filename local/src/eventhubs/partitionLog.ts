import { EventEmitter } from 'node:events';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/** Where an event sits in its partition: assigned when it is appended, never changed. */
export interface EventPosition {
  sequenceNumber: number;
  /** Byte position of the record in the partition's logical log; stable across restarts. */
  offset: number;
  /** Milliseconds since the epoch. */
  enqueuedTime: number;
}

export interface StoredEvent extends EventPosition {
  /** The encoded AMQP message exactly as delivered to consumers. */
  payload: Buffer;
}

/**
 * When appends reach the disk. `always`: an append resolves only after fdatasync (group commit,
 * so concurrent appends share one sync). `interval`: an append resolves once written to the OS
 * (survives a process crash) and the files are synced every `syncIntervalMs` and on close.
 */
export type FsyncPolicy = 'always' | 'interval';

export interface PartitionLogOptions {
  dir: string;
  retentionMs: number;
  fsync: FsyncPolicy;
  segmentBytes?: number;
  syncIntervalMs?: number;
}

/** Record header: u32 payload length, u32 crc32 of the payload, f64 enqueued time. */
const HEADER_BYTES = 16;
const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024;
const NAME_DIGITS = 20;

/** One append-only file; its name carries the sequence number and offset of its first record. */
class Segment {
  /** Record start positions within the file, one per event (the in-memory index). */
  readonly positions: number[] = [];
  readonly times: number[] = [];
  size = 0;
  deleted = false;
  private handle: Promise<FileHandle> | undefined;

  constructor(
    readonly dir: string,
    readonly baseSequence: number,
    readonly baseOffset: number,
  ) {}

  get path(): string {
    const name = `${String(this.baseSequence).padStart(NAME_DIGITS, '0')}-${String(this.baseOffset).padStart(NAME_DIGITS, '0')}.log`;
    return join(this.dir, name);
  }

  get count(): number {
    return this.positions.length;
  }

  file(): Promise<FileHandle> {
    this.handle ??= open(this.path, 'a+');
    return this.handle;
  }

  /** Byte range [start, end) of records first..last (inclusive, indexes within this segment). */
  range(first: number, last: number): [number, number] {
    const start = this.positions[first] ?? this.size;
    const end = this.positions[last + 1] ?? this.size;
    return [start, end];
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle).close();
  }
}

interface PendingWrite {
  segment: Segment;
  chunk: Buffer;
  lastSequence: number;
}

export class RetainedRangeError extends Error {}

/**
 * The durable event log of one partition: segment files under `dir`, an in-memory index of every
 * record (rebuilt by scanning at open), group-committed appends, lazy reads and whole-segment
 * retention. Emits `committed` whenever new events become readable.
 */
export class PartitionLog extends EventEmitter {
  private segments: Segment[] = [];
  private pending: PendingWrite[] = [];
  private pendingWaiters: Array<{ sequence: number; resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing: Promise<void> | undefined;
  private dirty = new Set<Segment>();
  private syncTimer: NodeJS.Timeout | undefined;
  private nextSequence = 0;
  private nextOffset = 0;
  private lastTime = 0;
  /** Highest sequence number readable by consumers (written, and synced under `always`). */
  committedSequence = -1;
  private closed = false;

  private constructor(private readonly options: PartitionLogOptions) {
    super();
    this.setMaxListeners(0);
  }

  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const log = new PartitionLog(options);
    await log.recover();
    if (options.fsync === 'interval') {
      log.syncTimer = setInterval(() => void log.syncDirty().catch(() => undefined), options.syncIntervalMs ?? 1000);
      log.syncTimer.unref();
    }
    return log;
  }

  get beginSequence(): number {
    const first = this.segments.find((segment) => segment.count > 0);
    return first ? first.baseSequence : this.nextSequence;
  }

  get lastEnqueued(): EventPosition | undefined {
    const sequence = this.committedSequence;
    if (sequence < this.beginSequence) return undefined;
    const located = this.locate(sequence);
    if (!located) return undefined;
    const [segment, index] = located;
    return {
      sequenceNumber: sequence,
      offset: segment.baseOffset + (segment.positions[index] ?? 0),
      enqueuedTime: segment.times[index] ?? 0,
    };
  }

  /**
   * Appends events; `encode` builds each stored payload from the position it was given (so the
   * delivered message can carry its own sequence number and offset). Resolves after the
   * write is durable per the fsync policy.
   */
  append(count: number, encode: (index: number, position: EventPosition) => Buffer): Promise<EventPosition[]> {
    if (this.closed) return Promise.reject(new Error('partition log is closed'));
    const now = Math.max(Date.now(), this.lastTime);
    const appended: EventPosition[] = [];
    for (let index = 0; index < count; index++) {
      const segment = this.activeSegment();
      const position: EventPosition = { sequenceNumber: this.nextSequence, offset: this.nextOffset, enqueuedTime: now };
      const payload = encode(index, position);
      const header = Buffer.allocUnsafe(HEADER_BYTES);
      header.writeUInt32BE(payload.length, 0);
      header.writeUInt32BE(crc32(payload), 4);
      header.writeDoubleBE(now, 8);
      segment.positions.push(segment.size);
      segment.times.push(now);
      segment.size += HEADER_BYTES + payload.length;
      this.pending.push({ segment, chunk: header, lastSequence: -1 }, { segment, chunk: payload, lastSequence: position.sequenceNumber });
      this.nextSequence += 1;
      this.nextOffset += HEADER_BYTES + payload.length;
      appended.push(position);
    }
    this.lastTime = now;
    const last = this.nextSequence - 1;
    const done = new Promise<void>((resolve, reject) => this.pendingWaiters.push({ sequence: last, resolve, reject }));
    this.scheduleFlush();
    return done.then(() => appended);
  }

  /** Reads committed events from `fromSequence` on, at most `maxCount` events and about `maxBytes`. */
  async read(fromSequence: number, maxCount: number, maxBytes: number): Promise<StoredEvent[]> {
    const begin = this.beginSequence;
    if (fromSequence < begin) throw new RetainedRangeError(`sequence ${fromSequence} is past retention (begins at ${begin})`);
    const lastReadable = Math.min(this.committedSequence, fromSequence + maxCount - 1);
    if (lastReadable < fromSequence) return [];
    const located = this.locate(fromSequence);
    if (!located) return [];
    const [segment, first] = located;
    // One contiguous read within one segment keeps reads simple; the next call continues.
    let last = Math.min(first + (lastReadable - fromSequence), segment.count - 1);
    const [start] = segment.range(first, first);
    while (last > first && segment.range(first, last)[1] - start > maxBytes) last -= 1;
    const [, end] = segment.range(first, last);
    const buffer = Buffer.allocUnsafe(end - start);
    const handle = await segment.file();
    if (segment.deleted) throw new RetainedRangeError(`sequence ${fromSequence} is past retention`);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    if (bytesRead !== buffer.length) throw new Error(`short read in ${segment.path} at ${start}`);
    const events: StoredEvent[] = [];
    for (let index = first, at = 0; index <= last; index++) {
      const length = buffer.readUInt32BE(at);
      events.push({
        sequenceNumber: segment.baseSequence + index,
        offset: segment.baseOffset + start + at,
        enqueuedTime: buffer.readDoubleBE(at + 8),
        payload: buffer.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length),
      });
      at += HEADER_BYTES + length;
    }
    return events;
  }

  /** First sequence number whose offset is > (or >=) `offset`; the next sequence number when none. */
  sequenceAfterOffset(offset: number, inclusive: boolean): number {
    for (const segment of this.segments) {
      const index = firstIndex(segment.positions, offset - segment.baseOffset, inclusive);
      if (index < segment.count) return segment.baseSequence + index;
    }
    return this.nextSequence;
  }

  /** First sequence number enqueued strictly after `time`. */
  sequenceAfterTime(time: number): number {
    for (const segment of this.segments) {
      const index = firstIndex(segment.times, time, false);
      if (index < segment.count) return segment.baseSequence + index;
    }
    return this.nextSequence;
  }

  /** Drops whole segments whose newest event is older than the retention period. */
  async enforceRetention(now = Date.now()): Promise<number> {
    const cutoff = now - this.options.retentionMs;
    const active = this.segments[this.segments.length - 1];
    if (active && active.count > 0 && (active.times[active.count - 1] ?? now) < cutoff && this.pending.length === 0) {
      // Seal an expired active segment so it can go too; appends start a fresh file.
      this.segments.push(new Segment(this.options.dir, this.nextSequence, this.nextOffset));
    }
    let dropped = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      if (!oldest || oldest.count === 0 || (oldest.times[oldest.count - 1] ?? now) >= cutoff) break;
      if (this.pending.some((write) => write.segment === oldest)) break;
      this.segments.shift();
      oldest.deleted = true;
      this.dirty.delete(oldest);
      await oldest.close();
      await rm(oldest.path, { force: true });
      dropped += oldest.count;
    }
    return dropped;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    while (this.flushing) await this.flushing;
    await this.syncDirty();
    for (const segment of this.segments) await segment.close();
    this.removeAllListeners();
  }

  private locate(sequence: number): [Segment, number] | undefined {
    let low = 0;
    let high = this.segments.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const segment = this.segments[mid];
      if (!segment) break;
      if (sequence < segment.baseSequence) high = mid - 1;
      else if (sequence >= segment.baseSequence + segment.count) low = mid + 1;
      else return [segment, sequence - segment.baseSequence];
    }
    return undefined;
  }

  private activeSegment(): Segment {
    const last = this.segments[this.segments.length - 1];
    if (last && last.size < (this.options.segmentBytes ?? DEFAULT_SEGMENT_BYTES)) return last;
    const segment = new Segment(this.options.dir, this.nextSequence, this.nextOffset);
    this.segments.push(segment);
    return segment;
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
    });
  }

  /** Group commit: everything appended while a write is in flight goes out in the next write. */
  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      const waiters = this.pendingWaiters;
      this.pending = [];
      this.pendingWaiters = [];
      try {
        let index = 0;
        while (index < batch.length) {
          const segment = batch[index]!.segment;
          const chunks: Buffer[] = [];
          while (index < batch.length && batch[index]!.segment === segment) chunks.push(batch[index++]!.chunk);
          const handle = await segment.file();
          await writeAll(handle, chunks);
          if (this.options.fsync === 'always') await handle.datasync();
          else this.dirty.add(segment);
        }
        const last = batch.reduce((max, write) => Math.max(max, write.lastSequence), this.committedSequence);
        this.committedSequence = last;
        for (const waiter of waiters) waiter.resolve();
        this.emit('committed', last);
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error as Error);
        this.emit('error', error);
        this.closed = true;
        return;
      }
    }
  }

  private async syncDirty(): Promise<void> {
    const segments = [...this.dirty];
    this.dirty.clear();
    for (const segment of segments) {
      if (!segment.deleted) await (await segment.file()).datasync();
    }
  }

  /**
   * Rebuilds the index from the files. A record that fails its length or checksum (a torn write
   * from a crash) ends the log there: the file is truncated and any later segment removed.
   */
  private async recover(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    const names = (await readdir(this.options.dir)).filter((name) => /^\d+-\d+\.log$/.test(name)).sort();
    let torn = false;
    for (const name of names) {
      const [sequencePart, offsetPart] = name.slice(0, -4).split('-');
      const segment = new Segment(this.options.dir, Number(sequencePart), Number(offsetPart));
      if (torn || (this.segments.length > 0 && segment.baseSequence !== this.nextSequence)) {
        torn = true;
        await rm(segment.path, { force: true });
        continue;
      }
      const handle = await segment.file();
      const { size } = await handle.stat();
      const content = Buffer.allocUnsafe(size);
      await handle.read(content, 0, size, 0);
      let at = 0;
      while (at + HEADER_BYTES <= size) {
        const length = content.readUInt32BE(at);
        const end = at + HEADER_BYTES + length;
        if (end > size || crc32(content.subarray(at + HEADER_BYTES, end)) !== content.readUInt32BE(at + 4)) break;
        segment.positions.push(at);
        segment.times.push(content.readDoubleBE(at + 8));
        at = end;
      }
      if (at < size) {
        torn = true;
        await handle.truncate(at);
      }
      segment.size = at;
      this.segments.push(segment);
      this.nextSequence = segment.baseSequence + segment.count;
      this.nextOffset = segment.baseOffset + segment.size;
      this.lastTime = Math.max(this.lastTime, segment.times[segment.count - 1] ?? 0);
    }
    if (this.segments.length === 0) {
      this.segments.push(new Segment(this.options.dir, 0, 0));
    }
    this.committedSequence = this.nextSequence - 1;
    await this.enforceRetention();
  }
}

async function writeAll(handle: FileHandle, chunks: Buffer[]): Promise<void> {
  // writev may write partially; continue until every byte is out.
  let remaining = chunks;
  while (remaining.length > 0) {
    const total = remaining.reduce((sum, chunk) => sum + chunk.length, 0);
    const { bytesWritten } = await handle.writev(remaining);
    if (bytesWritten >= total) return;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const chunk of remaining) {
      if (skip >= chunk.length) skip -= chunk.length;
      else {
        rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      }
    }
    remaining = rest;
  }
}

/** Index of the first element >= value (inclusive) or > value in a sorted array. */
function firstIndex(values: number[], value: number, inclusive: boolean): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const element = values[mid] ?? 0;
    if (inclusive ? element < value : element <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}
