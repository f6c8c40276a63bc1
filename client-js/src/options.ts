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
  /** Pause the circuit after the page has been hidden this long (ms); undefined: never. */
  pauseWhenHiddenMs?: number;
}

export const DEFAULT_MAX_RETRIES = 30;
export const DEFAULT_DIALOG_ID = 'components-reconnect-modal';
export const DEFAULT_SERVER_TIMEOUT_MS = 30000;
export const DEFAULT_KEEP_ALIVE_MS = 15000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 15000;

const KNOWN_KEYS = ['circuit', 'reconnectionOptions', 'reconnectionHandler', 'configureSignalR', 'circuitHandlers', 'logLevel', 'pauseWhenHiddenMs'];

/**
 * Passes `value` to `apply` when it is given and `valid`; otherwise reports that option `name` must be
 * `expected` (the default stays). Every option check goes through here, so every message has the same shape.
 */
function take<T>(
  report: (message: string) => void,
  name: string,
  value: unknown,
  valid: (value: T) => unknown,
  expected: string,
  apply: (value: T) => void,
): void {
  if (value === undefined) return;
  if (valid(value as T)) apply(value as T);
  else report(`${name} must be ${expected}; got ${describe(value)}`);
}

const LOG_LEVEL_EXPECTED = 'a level 0-6 or a name such as "debug" or "warning"';
const isLogLevel = (level: unknown) => parseLogLevel(level) !== undefined;

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
    take(this.#report, 'configureSignalR: withUrl(url)', url ?? null, (u: unknown) => typeof u === 'string' && u, 'a non-empty string', (u: string) => (this.settings.url = u));
    return this;
  }

  /** How long the server may stay silent before the connection counts as lost. */
  withServerTimeout(milliseconds: number): this {
    return this.#positive('withServerTimeout', milliseconds, 'serverTimeoutMs');
  }

  /** How often the client pings when it has nothing else to send. */
  withKeepAliveInterval(milliseconds: number): this {
    return this.#positive('withKeepAliveInterval', milliseconds, 'keepAliveMs');
  }

  /** How long the server has to answer the hub handshake. */
  withHandshakeTimeout(milliseconds: number): this {
    return this.#positive('withHandshakeTimeout', milliseconds, 'handshakeTimeoutMs');
  }

  /** The console log level, as a number 0-6 or a name such as "debug" or "warning". */
  configureLogging(level: unknown): this {
    take(this.#report, 'configureSignalR: configureLogging(level)', level ?? null, isLogLevel, LOG_LEVEL_EXPECTED, (l) => this.#setLogLevel(parseLogLevel(l)!));
    return this;
  }

  #positive(method: string, value: unknown, setting: 'serverTimeoutMs' | 'keepAliveMs' | 'handshakeTimeoutMs'): this {
    take(this.#report, `configureSignalR: ${method}(ms)`, value ?? null, (v) => isDelay(v) && v, 'a positive number', (v: number) => (this.settings[setting] = v));
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
  defaultHubUrl: string = DEFAULT_HUB_PATH,
): ResolvedOptions {
  const reconnection: ReconnectionOptions = { maxRetries: DEFAULT_MAX_RETRIES, dialogId: DEFAULT_DIALOG_ID };
  const options: ResolvedOptions = {
    reconnectionOptions: reconnection,
    circuitHandlers: [],
    logLevel: LogLevel.Warning,
    hub: {
      url: defaultHubUrl,
      serverTimeoutMs: DEFAULT_SERVER_TIMEOUT_MS,
      keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
      handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
    },
  };
  type Options = Record<string, unknown>;
  let merged: Options = {};
  take(report, 'start options', input ?? {}, isObject, 'an object', (top: Options) => {
    merged = { ...top };
    take(report, 'circuit', top.circuit, isObject, 'an object holding the circuit options', (circuit: Options) => (merged = { ...top, ...circuit }));
  });
  for (const key of Object.keys(merged)) {
    if (!KNOWN_KEYS.includes(key)) warn(`unknown start option '${key}' is ignored`);
  }

  take(report, 'logLevel', merged.logLevel, isLogLevel, LOG_LEVEL_EXPECTED, (l) => (options.logLevel = parseLogLevel(l)!));
  take(report, 'pauseWhenHiddenMs', merged.pauseWhenHiddenMs, (v) => isDelay(v) && v, 'a positive number of milliseconds', (ms: number) => (options.pauseWhenHiddenMs = ms));

  take(report, 'reconnectionOptions', merged.reconnectionOptions, isObject, 'an object', (value: Options) => {
    const name = (key: string) => `reconnectionOptions.${key}`;
    take(report, name('maxRetries'), value.maxRetries, (n: number) => Number.isInteger(n) && n >= 0, 'a non-negative integer', (n: number) => (reconnection.maxRetries = n));
    take(
      report,
      name('retryIntervalMilliseconds'),
      value.retryIntervalMilliseconds,
      (v) => typeof v === 'function' || isDelay(v),
      'a number of milliseconds >= 0 or a function (previousAttempts, maxRetries) => ms | null',
      (v: ReconnectionOptions['retryIntervalMilliseconds']) => (reconnection.retryIntervalMilliseconds = v),
    );
    take(report, name('dialogId'), value.dialogId, (id) => typeof id === 'string' && id, 'a non-empty element id', (id: string) => (reconnection.dialogId = id));
  });

  take(
    report,
    'reconnectionHandler',
    merged.reconnectionHandler ?? undefined,
    (h: Options) => isObject(h) && [h.onConnectionDown, h.onConnectionUp].every((f) => typeof f === 'function'),
    'an object with both onConnectionDown and onConnectionUp functions (the built-in reconnection UI is used instead)',
    (h) => (options.reconnectionHandler = h as unknown as ReconnectionHandler),
  );

  const handlers = merged.circuitHandlers;
  if (handlers !== undefined) {
    (Array.isArray(handlers) ? handlers : [handlers]).forEach((h, i) =>
      take(
        report,
        `circuitHandlers[${i}]`,
        h ?? null,
        (h: Options) => isObject(h) && [h.onCircuitOpened, h.onCircuitClosed].every((f) => f === undefined || typeof f === 'function'),
        'an object whose onCircuitOpened and onCircuitClosed are functions',
        (h: CircuitHandler) => options.circuitHandlers.push(h),
      ),
    );
  }

  take(report, 'configureSignalR', merged.configureSignalR, (f) => typeof f === 'function', 'a function (builder) => ...', (configure: (b: HubConnectionSettingsBuilder) => void) => {
    try {
      configure(new HubConnectionSettingsBuilder(options.hub, report, (level) => (options.logLevel = level)));
    } catch (error) {
      report(`configureSignalR threw: ${(error as Error)?.message ?? String(error)}`);
    }
  });
  const { serverTimeoutMs, keepAliveMs } = options.hub;
  if (serverTimeoutMs < 2 * keepAliveMs) {
    warn(`the server timeout (${serverTimeoutMs} ms) is under twice the keep-alive interval (${keepAliveMs} ms): a single late ping will drop the connection. Use a server timeout of at least ${2 * keepAliveMs} ms.`);
  }
  try {
    options.hub.url = new URL(options.hub.url, baseUri).href.replace(/\/$/, '');
  } catch {
    report(`configureSignalR: withUrl got ${describe(options.hub.url)}, which is not a URL; using the default hub path`);
    options.hub.url = new URL(defaultHubUrl, baseUri).href;
  }
  return options;
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A finite number of milliseconds, at least 0. */
export function isDelay(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A short rendering of a bad value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}
