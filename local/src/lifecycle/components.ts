import { settlesWithin } from './services.js';

/** One part of a running stack, stopped in the reverse of the order it was started. */
export interface Component {
  /** As users know it: "host", "Event Hubs", "Azurite", "PostgreSQL". */
  name: string;
  stop(): Promise<void>;
  /** How long stopping may take before the shutdown moves on to the next component. */
  boundMs: number;
  /** For a separate process: resolves (with how) when it has ended, asked to or not. */
  exited?: Promise<string>;
}

export interface ComponentExit {
  name: string;
  /** e.g. "exited with code 1", "killed by SIGKILL". */
  how: string;
}

/**
 * The started components of a stack. Notices a component process that ends on its own (a crash, a signal sent
 * to it) so the rest can be stopped instead of retried against, and stops everything in order, each step bounded.
 */
export class Components {
  private readonly started: Component[] = [];
  private stopping: Promise<string> | undefined;
  private noticeExit!: (exit: ComponentExit) => void;
  /** The first component that ended while it should have been running. Never resolves otherwise. */
  readonly firstExit = new Promise<ComponentExit>((resolve) => {
    this.noticeExit = resolve;
  });

  add(component: Component): void {
    this.started.push(component);
    void component.exited?.then((how) => {
      if (!this.stopping) this.noticeExit({ name: component.name, how });
    });
  }

  get names(): string[] {
    return this.started.map((component) => component.name);
  }

  /**
   * Stops the components, last started first. Returns one line: the time each took, and which did not stop in
   * their bound (shutdown went on without them; their process is killed, or the command's exit ends them).
   */
  stopAll(): Promise<string> {
    this.stopping ??= (async () => {
      const started = Date.now();
      const parts: string[] = [];
      for (const component of [...this.started].reverse()) {
        const t0 = Date.now();
        let failure: unknown;
        const done = await settlesWithin(
          component.stop().catch((error: unknown) => {
            failure = error;
          }),
          component.boundMs,
        );
        const took = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
        if (!done) parts.push(`${component.name} ${took} (not stopped within ${component.boundMs / 1000} s; abandoned)`);
        else if (failure) parts.push(`${component.name} ${took} (${failure instanceof Error ? failure.message.split('\n')[0] : String(failure)})`);
        else parts.push(`${component.name} ${took}`);
      }
      return `stopped in ${((Date.now() - started) / 1000).toFixed(1)} s: ${parts.join(', ') || 'nothing was running'}`;
    })();
    return this.stopping;
  }
}

/** How a process ended, in words. */
export function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${String(exit.code)}`;
}
