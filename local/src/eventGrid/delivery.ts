export interface GridEvent {
  id: string;
  [field: string]: unknown;
}

/** Event Grid's push delivery, as documented: at-least-once, 30 s response timeout, exponential retries. */
export interface DeliveryOptions {
  /** Base URL of the Functions host, e.g. http://localhost:7071 */
  hostUrl: string;
  /** Delays between attempts; Event Grid's real schedule starts 10 s, 30 s, 1 min, 5 min... */
  retryDelaysMs?: number[];
  maxAttempts?: number;
  timeoutMs?: number;
  onDeadLetter?: (functionName: string, event: GridEvent, reason: string) => void;
}

const EVENT_GRID_SCHEDULE_MS = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
/** Event Grid drops (dead-letters) at once on these: retrying cannot help. */
const NOT_RETRIED = new Set([400, 401, 403, 413]);

export class EventGridDelivery {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: DeliveryOptions) {}

  deliver(functionName: string, event: GridEvent): void {
    const attempt = (n: number): void => {
      const run = this.post(functionName, event).then(
        (status) => {
          if (status >= 200 && status < 300) return;
          if (NOT_RETRIED.has(status)) return this.deadLetter(functionName, event, `HTTP ${status}`);
          this.retry(functionName, event, n, `HTTP ${status}`, attempt);
        },
        (error: Error) => this.retry(functionName, event, n, error.message, attempt),
      );
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    };
    attempt(1);
  }

  /** Waits for deliveries in flight and cancels scheduled retries. */
  async drain(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private retry(functionName: string, event: GridEvent, n: number, reason: string, attempt: (n: number) => void) {
    const maxAttempts = this.options.maxAttempts ?? 30;
    if (n >= maxAttempts) return this.deadLetter(functionName, event, `${reason} after ${n} attempts`);
    if (this.closed) return;
    const schedule = this.options.retryDelaysMs ?? EVENT_GRID_SCHEDULE_MS;
    const delay = schedule[Math.min(n - 1, schedule.length - 1)]!;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      attempt(n + 1);
    }, delay);
    this.timers.add(timer);
  }

  private deadLetter(functionName: string, event: GridEvent, reason: string): void {
    this.options.onDeadLetter?.(functionName, event, reason);
  }

  private async post(functionName: string, event: unknown): Promise<number> {
    const url = `${this.options.hostUrl}/runtime/webhooks/EventGrid?functionName=${encodeURIComponent(functionName)}`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
      body: JSON.stringify([event]),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    });
    await response.arrayBuffer();
    return response.status;
  }
}
