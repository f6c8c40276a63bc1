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

const LEVEL_NAMES: Record<string, LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  information: LogLevel.Information,
  info: LogLevel.Information,
  warning: LogLevel.Warning,
  warn: LogLevel.Warning,
  error: LogLevel.Error,
  critical: LogLevel.Critical,
  none: LogLevel.None,
};

/** Reads a level given as a number 0-6 or a name ("debug", "Warning", ...); undefined when it is neither. */
export function parseLogLevel(value: unknown): LogLevel | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 6) return value as LogLevel;
  if (typeof value === 'string') return LEVEL_NAMES[value.toLowerCase()];
  return undefined;
}

/** Writes to the console at or above its level. */
export class Logger {
  constructor(public level: LogLevel = LogLevel.Warning) {}

  log(level: LogLevel, ...args: unknown[]): void {
    if (level < this.level) return;
    const write =
      level >= LogLevel.Error ? console.error : level === LogLevel.Warning ? console.warn : level === LogLevel.Information ? console.info : console.debug;
    write('[tether]', ...args);
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
