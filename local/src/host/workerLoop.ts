import type { HostLogger } from './logger.js';

/**
 * Runs `step` in a few parallel loops. A loop that finds no work sleeps until woken (LISTEN/NOTIFY)
 * or until the idle delay passes (slow poll fallback and due timers); it never spins.
 */
export class WorkerLoop {
  private stopped = false;
  private sleepers = new Set<() => void>();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly name: string,
    private readonly step: () => Promise<boolean>,
    private readonly idleDelayMs: () => Promise<number> | number,
    private readonly logger: HostLogger,
  ) {}

  start(parallel: number): void {
    for (let i = 0; i < parallel; i++) this.loops.push(this.run());
  }

  wake(): void {
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  /** Lets running steps finish, then returns. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await Promise.all(this.loops);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let worked = false;
      try {
        worked = await this.step();
      } catch (error) {
        this.logger.error(`${this.name} step failed`, { error: error instanceof Error ? error.message : String(error) });
      }
      if (worked || this.stopped) continue;
      let delay = 1000;
      try {
        delay = await this.idleDelayMs();
      } catch {
        // keep the default poll delay
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.sleepers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(5, delay));
        this.sleepers.add(wake);
      });
    }
  }
}

/** A counting semaphore bounding concurrent invocations (host.json concurrency limits). */
export class Semaphore {
  private waiting: Array<() => void> = [];
  private used = 0;

  constructor(private readonly size: number) {}

  get free(): number {
    return this.size - this.used;
  }

  async acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}
