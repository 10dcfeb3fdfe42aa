import { constants } from 'node:os';
import { signalServicesNow } from './services.js';

/** The signals that stop a command: Ctrl-C, a service manager's stop, a closed terminal. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Everything must be down this long after the first signal; what is still running then is killed. */
export const STOP_DEADLINE_MS = 9_000;

// npm forwards the signals it receives to the script it runs, so a single Ctrl-C can arrive twice in the same
// instant (from the terminal and from npm); only a later one counts as the user asking again.
const SAME_KEYPRESS_MS = 300;

export interface StopRequest {
  /** Aborted on the first stop signal. */
  readonly signal: AbortSignal;
  /** The signal received, if any. */
  received(): StopSignal | undefined;
  /** The shell's convention for a command ended by that signal: 128 + its number (130 SIGINT, 143 SIGTERM). */
  exitCode(): number;
  /** Removes the handlers (the command has ended). */
  dispose(): void;
}

export interface StopRequestOptions {
  /** Where the one acknowledgement line goes (stderr by default). */
  say?: (line: string) => void;
  deadlineMs?: number;
}

/**
 * Turns SIGINT/SIGTERM/SIGHUP into an orderly stop: the first one aborts `signal` (the command then stops its
 * services in order); a second one, or the deadline passing, exits at once after signalling the services still
 * running (PostgreSQL gets a fast shutdown, which it completes on its own).
 */
export function handleStopSignals(options: StopRequestOptions = {}): StopRequest {
  const say = options.say ?? stderrLine;
  const controller = new AbortController();
  let first: { signal: StopSignal; at: number } | undefined;
  let deadline: NodeJS.Timeout | undefined;

  const forceExit = (why: string) => {
    say(`${why}: exiting now`);
    signalServicesNow();
    process.exit(exitCodeFor(first!.signal));
  };
  const onSignal = (signal: StopSignal) => {
    if (!first) {
      first = { signal, at: Date.now() };
      say(`${signal}: stopping (${signal === 'SIGINT' ? 'Ctrl-C' : 'signal'} again to exit at once)`);
      deadline = setTimeout(() => forceExit(`not stopped within ${((options.deadlineMs ?? STOP_DEADLINE_MS) / 1000).toFixed(0)} s`), options.deadlineMs ?? STOP_DEADLINE_MS);
      deadline.unref();
      controller.abort(new StopSignalError(signal));
      return;
    }
    if (signal === first.signal && Date.now() - first.at < SAME_KEYPRESS_MS) return;
    forceExit(`second ${signal}`);
  };
  const handlers = STOP_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);

  return {
    signal: controller.signal,
    received: () => first?.signal,
    exitCode: () => (first ? exitCodeFor(first.signal) : 0),
    dispose() {
      clearTimeout(deadline);
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}

/** One line to stderr, bypassing console (muted once stopping). */
export function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function exitCodeFor(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/** The reason of an abort caused by a stop signal. */
export class StopSignalError extends Error {
  constructor(readonly stopSignal: StopSignal) {
    super(`stopped by ${stopSignal}`);
    this.name = 'AbortError';
  }
}

/**
 * Once a command is stopping, only its own shutdown lines are written (straight to stderr): console output of the
 * app and of libraries, which then mostly reports connections being cut, is dropped.
 */
export function muteConsole(): void {
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) console[method] = () => {};
}
