export interface GridEvent {
  id: string;
  [field: string]: unknown;
}

/** Why and after what an event was given up, as Event Grid writes it beside the event in a dead-letter blob. */
export interface DeadLetter {
  deadLetterReason: 'MaxDeliveryAttemptsExceeded' | 'TimeToLiveExceeded' | 'NonRetriableError';
  deliveryAttempts: number;
  lastDeliveryOutcome: string;
  lastHttpStatusCode: number;
  publishTime: string;
  lastDeliveryAttemptTime: string;
}

/** A subscription's retry policy (bicep `retryPolicy`): whichever limit is reached first dead-letters the event. */
export interface RetryPolicy {
  /** 1..30, Event Grid's default 30. */
  maxDeliveryAttempts: number;
  /** Event time to live: 1..1440 minutes, default 1440 (given in ms here so tests can shorten it). */
  eventTimeToLiveMs: number;
}

/** Event Grid's push delivery, as documented: at-least-once, 30 s response timeout, exponential retries. */
export interface DeliveryOptions {
  /** Base URL of the Functions host, e.g. http://localhost:7071 */
  hostUrl: string;
  /** Delays between attempts (tests shorten them); Event Grid's own schedule by default. */
  retryDelaysMs?: number[];
  timeoutMs?: number;
  /** Where an event that is given up goes (its subscription's dead-letter container); dropped without it, as on Azure. */
  onDeadLetter?: (subscription: string, event: GridEvent, deadLetter: DeadLetter) => void | Promise<void>;
}

/** Event Grid's documented schedule: 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h. */
const EVENT_GRID_SCHEDULE_MS = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000];
/** Event Grid dead-letters a webhook's answer at once on these: retrying cannot help. */
const NOT_RETRIED = new Set([400, 401, 403, 413]);
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxDeliveryAttempts: 30, eventTimeToLiveMs: 1440 * 60_000 };

/** Where an event goes: the subscription (its name, the function it calls, its retry policy). */
export interface DeliveryTarget {
  subscription: string;
  functionName: string;
  policy?: RetryPolicy;
}

interface Attempt {
  subscription: string;
  functionName: string;
  event: GridEvent;
  policy: RetryPolicy;
  publishedAt: number;
  n: number;
}

export class EventGridDelivery {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: DeliveryOptions) {}

  deliver(target: DeliveryTarget, event: GridEvent): void {
    this.attempt({ ...target, event, policy: target.policy ?? DEFAULT_RETRY_POLICY, publishedAt: Date.now(), n: 1 });
  }

  /** Waits for deliveries (and dead-letter writes) in flight and cancels scheduled retries. */
  async drain(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private attempt(a: Attempt): void {
    const run = this.post(a.functionName, a.event).then(
      (status) => {
        if (status >= 200 && status < 300) return undefined;
        if (NOT_RETRIED.has(status)) return this.deadLetter(a, 'NonRetriableError', `HTTP ${status}`, status);
        return this.retry(a, `HTTP ${status}`, status);
      },
      (error: Error) => this.retry(a, error.name === 'TimeoutError' ? 'TimedOut' : error.message, 0),
    );
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async retry(a: Attempt, outcome: string, status: number): Promise<void> {
    if (a.n >= a.policy.maxDeliveryAttempts) return this.deadLetter(a, 'MaxDeliveryAttemptsExceeded', outcome, status);
    const schedule = this.options.retryDelaysMs ?? EVENT_GRID_SCHEDULE_MS;
    const delay = schedule[Math.min(a.n - 1, schedule.length - 1)]!;
    if (Date.now() + delay - a.publishedAt > a.policy.eventTimeToLiveMs) return this.deadLetter(a, 'TimeToLiveExceeded', outcome, status);
    if (this.closed) return undefined;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.attempt({ ...a, n: a.n + 1 });
    }, delay);
    this.timers.add(timer);
    return undefined;
  }

  private async deadLetter(a: Attempt, reason: DeadLetter['deadLetterReason'], outcome: string, status: number): Promise<void> {
    await this.options.onDeadLetter?.(a.subscription, a.event, {
      deadLetterReason: reason,
      deliveryAttempts: a.n,
      lastDeliveryOutcome: outcome,
      lastHttpStatusCode: status,
      publishTime: new Date(a.publishedAt).toISOString(),
      lastDeliveryAttemptTime: new Date().toISOString(),
    });
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
