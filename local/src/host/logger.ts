import type { LogLevelName } from './settings.js';

const ORDER: Record<LogLevelName, number> = {
  trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5, none: 6,
};

export type LogFields = Record<string, string | number | boolean | undefined>;

/** Structured, quiet host log: one line per event, `level message key=value ...`, to stderr. */
export class HostLogger {
  private muted = false;

  constructor(private readonly level: LogLevelName, private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {}

  private enabled(level: LogLevelName): boolean {
    return !this.muted && ORDER[level] >= ORDER[this.level] && level !== 'none';
  }

  /** Nothing more is written (a stopping host: its components report failures as they are cut off). */
  mute(): void {
    this.muted = true;
  }

  log(level: LogLevelName, message: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const parts = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value)}`);
    this.write([new Date().toISOString(), level.padEnd(11), message, ...parts].join(' '));
  }

  info(message: string, fields?: LogFields): void { this.log('information', message, fields); }
  debug(message: string, fields?: LogFields): void { this.log('debug', message, fields); }
  warn(message: string, fields?: LogFields): void { this.log('warning', message, fields); }
  error(message: string, fields?: LogFields): void { this.log('error', message, fields); }
}

export function toLogLevel(level: string): LogLevelName {
  const lower = level.toLowerCase();
  return lower in ORDER ? (lower as LogLevelName) : 'information';
}
