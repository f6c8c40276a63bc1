// Console logging with a level filter. Every message starts with "[tether]" so people can filter the console.

/** Levels in the order of the official SignalR client's `LogLevel`, so the same numbers work here. */
export const enum LogLevel {
  Trace = 0,
  Debug = 1,
  Information = 2,
  Warning = 3,
  Error = 4,
  Critical = 5,
  None = 6,
}

/** Level names by level number; `info` and `warn` are accepted too. */
const LEVEL_NAMES = ['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none'];

/** Reads a level given as a number 0-6 or a name ("debug", "Warning", ...); undefined when it is neither. */
export function parseLogLevel(value: unknown): LogLevel | undefined {
  if (typeof value === 'string') {
    const name = value.toLowerCase();
    value = LEVEL_NAMES.indexOf(({ info: 'information', warn: 'warning' } as Record<string, string>)[name] ?? name);
  }
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 6 ? (value as LogLevel) : undefined;
}

/** Writes to the console at or above its level. */
export class Logger {
  constructor(public level: LogLevel = LogLevel.Warning) {}

  log(level: LogLevel, ...args: unknown[]): void {
    if (level < this.level) return;
    // Error and above go to console.error.
    const method = (['debug', 'debug', 'info', 'warn'] as ('debug' | 'info' | 'warn')[])[level] ?? 'error';
    console[method]('[tether]', ...args);
  }

  debug(...args: unknown[]): void {
    this.log(LogLevel.Debug, ...args);
  }

  info(...args: unknown[]): void {
    this.log(LogLevel.Information, ...args);
  }

  warn(...args: unknown[]): void {
    this.log(LogLevel.Warning, ...args);
  }

  error(...args: unknown[]): void {
    this.log(LogLevel.Error, ...args);
  }
}
