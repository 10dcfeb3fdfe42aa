import type { Sender } from 'rhea';
import { RetainedRangeError, type PartitionLog } from './partitionLog.js';

const MAX_READ_EVENTS = 256;
const MAX_READ_BYTES = 1024 * 1024;

/**
 * Streams one partition to one receiver link, from storage, only while the link has credit:
 * the endpoint never holds more than one read (at most the credit, at most ~1 MiB) per link,
 * however slow the consumer.
 */
export class ConsumerLink {
  private busy = false;
  /** A pump request that arrived while draining: drain once more afterwards, so no wake-up is lost. */
  private again = false;
  private waiting = false;
  private closed = false;

  constructor(
    readonly sender: Sender,
    private readonly log: PartitionLog,
    private nextSequence: number,
    readonly ownerLevel: number | undefined,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Sends what the credit allows; call on attach, on new credit and on new events. */
  readonly pump = (): void => {
    if (this.closed) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.again = false;
    this.drain()
      .catch((error: unknown) => {
        if (!this.closed) this.onError(error);
      })
      .finally(() => {
        this.busy = false;
        if (this.again) this.pump();
      });
  };

  private readonly wake = (): void => {
    this.waiting = false;
    this.pump();
  };

  private async drain(): Promise<void> {
    while (!this.closed && this.sender.sendable()) {
      if (this.nextSequence > this.log.committedSequence) {
        if (!this.waiting) {
          this.waiting = true;
          this.log.once('committed', this.wake);
        }
        return;
      }
      let events;
      try {
        events = await this.log.read(this.nextSequence, Math.min((this.sender as unknown as { credit: number }).credit, MAX_READ_EVENTS), MAX_READ_BYTES);
      } catch (error) {
        // Retention dropped what this reader was about to read: continue at the oldest event left.
        if (!(error instanceof RetainedRangeError)) throw error;
        this.nextSequence = this.log.beginSequence;
        continue;
      }
      this.coalesceWrites();
      for (const event of events) {
        if (this.closed || !this.sender.sendable()) return;
        this.sender.send(event.payload, undefined, 0);
        this.nextSequence = event.sequenceNumber + 1;
      }
    }
  }

  /**
   * rhea writes each transfer frame to the socket separately; corking until its output pass has
   * run turns a read's worth of frames into one writev instead of a syscall per event.
   */
  private coalesceWrites(): void {
    const socket = (this.sender.connection as unknown as { socket?: { cork(): void; uncork(): void } }).socket;
    if (!socket) return;
    socket.cork();
    setImmediate(() => socket.uncork());
  }

  close(): void {
    this.closed = true;
    this.log.off('committed', this.wake);
  }
}
