// Start options: normalizes what the page passes to `Tether.start(...)` into one checked shape. Options are
// accepted at the top level and under `circuit` (the nested one wins), so both shapes people copy from Blazor
// documentation work. A bad value never stops the page: it gets a console error naming the option, and the
// default is used instead.
import { LogLevel, parseLogLevel } from './log';
import { DEFAULT_HUB_PATH } from './protocol';

/** `(previousAttempts, maxRetries) => delay in ms`, or null/undefined to stop retrying. */
export type RetryIntervalFunction = (previousAttempts: number, maxRetries: number) => number | null | undefined;

/** How the built-in reconnection loop retries. */
export interface ReconnectionOptions {
  maxRetries: number;
  /** A fixed delay, a function, or undefined for the default backoff. */
  retryIntervalMilliseconds?: number | RetryIntervalFunction;
  /** Id of the page's own reconnect modal. */
  dialogId: string;
}

/** Replaces the built-in reconnection loop and UI. */
export interface ReconnectionHandler {
  onConnectionDown(options: ReconnectionOptions, error?: Error): void;
  onConnectionUp(): void;
}

/** Page callbacks for the circuit's life. */
export interface CircuitHandler {
  onCircuitOpened?(): void;
  onCircuitClosed?(): void;
}

/** The hub connection settings `configureSignalR` can change. */
export interface HubSettings {
  url: string;
  serverTimeoutMs: number;
  keepAliveMs: number;
  handshakeTimeoutMs: number;
}

/** Options after normalization. */
export interface ResolvedOptions {
  reconnectionOptions: ReconnectionOptions;
  reconnectionHandler?: ReconnectionHandler;
  circuitHandlers: CircuitHandler[];
  logLevel: LogLevel;
  hub: HubSettings;
}

export const DEFAULT_MAX_RETRIES = 30;
export const DEFAULT_DIALOG_ID = 'components-reconnect-modal';
export const DEFAULT_SERVER_TIMEOUT_MS = 30000;
export const DEFAULT_KEEP_ALIVE_MS = 15000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 15000;

const KNOWN_KEYS = ['circuit', 'reconnectionOptions', 'reconnectionHandler', 'configureSignalR', 'circuitHandlers', 'logLevel'];

/** The object `configureSignalR(builder)` receives; every method returns the builder so calls chain. */
export class HubConnectionSettingsBuilder {
  readonly #report: (message: string) => void;
  readonly #setLogLevel: (level: LogLevel) => void;

  constructor(readonly settings: HubSettings, report: (message: string) => void, setLogLevel: (level: LogLevel) => void) {
    this.#report = report;
    this.#setLogLevel = setLogLevel;
  }

  /** The hub URL, absolute or relative to the document's base URI. */
  withUrl(url: string): this {
    if (typeof url === 'string' && url.length > 0) this.settings.url = url;
    else this.#report(`configureSignalR: withUrl(url) needs a non-empty string; got ${describe(url)}`);
    return this;
  }

  /** How long the server may stay silent before the connection counts as lost. */
  withServerTimeout(milliseconds: number): this {
    if (isPositive(milliseconds)) this.settings.serverTimeoutMs = milliseconds;
    else this.#report(`configureSignalR: withServerTimeout(ms) needs a positive number; got ${describe(milliseconds)}`);
    return this;
  }

  /** How often the client pings when it has nothing else to send. */
  withKeepAliveInterval(milliseconds: number): this {
    if (isPositive(milliseconds)) this.settings.keepAliveMs = milliseconds;
    else this.#report(`configureSignalR: withKeepAliveInterval(ms) needs a positive number; got ${describe(milliseconds)}`);
    return this;
  }

  /** How long the server has to answer the hub handshake. */
  withHandshakeTimeout(milliseconds: number): this {
    if (isPositive(milliseconds)) this.settings.handshakeTimeoutMs = milliseconds;
    else this.#report(`configureSignalR: withHandshakeTimeout(ms) needs a positive number; got ${describe(milliseconds)}`);
    return this;
  }

  /** The console log level, as a number 0-6 or a name such as "debug" or "warning". */
  configureLogging(level: unknown): this {
    const parsed = parseLogLevel(level);
    if (parsed === undefined) this.#report(`configureSignalR: configureLogging(level) needs a level 0-6 or a name such as "debug"; got ${describe(level)}`);
    else this.#setLogLevel(parsed);
    return this;
  }
}

/**
 * Normalizes start options. `report` receives one message per bad option (the caller prints it with
 * console.error), `warn` receives advice that is not an error.
 */
export function normalizeOptions(
  input: unknown,
  baseUri: string,
  report: (message: string) => void,
  warn: (message: string) => void = () => {},
): ResolvedOptions {
  const options: ResolvedOptions = {
    reconnectionOptions: { maxRetries: DEFAULT_MAX_RETRIES, dialogId: DEFAULT_DIALOG_ID },
    circuitHandlers: [],
    logLevel: LogLevel.Warning,
    hub: {
      url: DEFAULT_HUB_PATH,
      serverTimeoutMs: DEFAULT_SERVER_TIMEOUT_MS,
      keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
      handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
    },
  };
  if (input === undefined || input === null) input = {};
  if (!isObject(input)) {
    report(`start options must be an object; got ${describe(input)}`);
    input = {};
  }
  const top = input as Record<string, unknown>;
  let merged: Record<string, unknown> = { ...top };
  if (top.circuit !== undefined) {
    if (isObject(top.circuit)) merged = { ...top, ...(top.circuit as Record<string, unknown>) };
    else report(`circuit must be an object holding the circuit options; got ${describe(top.circuit)}`);
  }
  for (const key of Object.keys(merged)) {
    if (!KNOWN_KEYS.includes(key)) warn(`unknown start option '${key}' is ignored (known: ${KNOWN_KEYS.join(', ')})`);
  }

  if (merged.logLevel !== undefined) {
    const level = parseLogLevel(merged.logLevel);
    if (level === undefined) report(`logLevel must be a level 0-6 or a name such as "debug" or "warning"; got ${describe(merged.logLevel)}`);
    else options.logLevel = level;
  }

  readReconnectionOptions(merged.reconnectionOptions, options.reconnectionOptions, report);

  const handler = merged.reconnectionHandler;
  if (handler !== undefined && handler !== null) {
    const missing = ['onConnectionDown', 'onConnectionUp'].filter((name) => !isObject(handler) || typeof (handler as Record<string, unknown>)[name] !== 'function');
    if (missing.length) {
      report(`reconnectionHandler needs both onConnectionDown and onConnectionUp functions; missing ${missing.join(' and ')}. The built-in reconnection UI is used instead.`);
    } else options.reconnectionHandler = handler as ReconnectionHandler;
  }

  const handlers = merged.circuitHandlers;
  if (handlers !== undefined) {
    const list = Array.isArray(handlers) ? handlers : [handlers];
    list.forEach((h, i) => {
      const bad = !isObject(h) || ['onCircuitOpened', 'onCircuitClosed'].some((n) => (h as Record<string, unknown>)[n] !== undefined && typeof (h as Record<string, unknown>)[n] !== 'function');
      if (bad) report(`circuitHandlers[${i}] must be an object whose onCircuitOpened and onCircuitClosed are functions; got ${describe(h)}`);
      else options.circuitHandlers.push(h as CircuitHandler);
    });
  }

  const configure = merged.configureSignalR;
  if (configure !== undefined) {
    if (typeof configure !== 'function') report(`configureSignalR must be a function (builder) => ...; got ${describe(configure)}`);
    else {
      const builder = new HubConnectionSettingsBuilder(options.hub, report, (level) => (options.logLevel = level));
      try {
        configure(builder);
      } catch (error) {
        report(`configureSignalR threw: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }
  const { serverTimeoutMs, keepAliveMs } = options.hub;
  if (serverTimeoutMs < 2 * keepAliveMs) {
    warn(`the server timeout (${serverTimeoutMs} ms) is under twice the keep-alive interval (${keepAliveMs} ms): a single late ping will drop the connection. Use a server timeout of at least ${2 * keepAliveMs} ms.`);
  }
  try {
    options.hub.url = new URL(options.hub.url, baseUri).href.replace(/\/$/, '');
  } catch {
    report(`configureSignalR: withUrl got ${describe(options.hub.url)}, which is not a URL; using the default hub path`);
    options.hub.url = new URL(DEFAULT_HUB_PATH, baseUri).href;
  }
  return options;
}

function readReconnectionOptions(value: unknown, target: ReconnectionOptions, report: (message: string) => void): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    report(`reconnectionOptions must be an object; got ${describe(value)}`);
    return;
  }
  const { maxRetries, retryIntervalMilliseconds, dialogId } = value as Record<string, unknown>;
  if (maxRetries !== undefined) {
    if (typeof maxRetries === 'number' && Number.isInteger(maxRetries) && maxRetries >= 0) target.maxRetries = maxRetries;
    else report(`reconnectionOptions.maxRetries must be a non-negative integer; got ${describe(maxRetries)}; using ${target.maxRetries}`);
  }
  if (retryIntervalMilliseconds !== undefined) {
    if (typeof retryIntervalMilliseconds === 'function') target.retryIntervalMilliseconds = retryIntervalMilliseconds as RetryIntervalFunction;
    else if (typeof retryIntervalMilliseconds === 'number' && Number.isFinite(retryIntervalMilliseconds) && retryIntervalMilliseconds >= 0) {
      target.retryIntervalMilliseconds = retryIntervalMilliseconds;
    } else {
      report(`reconnectionOptions.retryIntervalMilliseconds must be a number of milliseconds >= 0 or a function (previousAttempts, maxRetries) => ms | null; got ${describe(retryIntervalMilliseconds)}; using the default backoff`);
    }
  }
  if (dialogId !== undefined) {
    if (typeof dialogId === 'string' && dialogId.length > 0) target.dialogId = dialogId;
    else report(`reconnectionOptions.dialogId must be a non-empty element id; got ${describe(dialogId)}; using '${target.dialogId}'`);
  }
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** A short rendering of a bad value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}
