// The public `Tether` API. The boot script starts once per page: automatically, unless its script tag says
// `autostart="false"`, in which case the page calls `Tether.start(options)` itself.
import { Circuit, load } from './circuit';
import { Interop } from './interop';
import { Logger } from './log';
import { normalizeOptions } from './options';
import { BOOT_SCRIPT_NAME, DEFAULT_HUB_PATH, type ServerMethod } from './protocol';

let circuit: Circuit | undefined;
let started: Promise<void> | undefined;
let defaultHubUrl = DEFAULT_HUB_PATH;
const interop = new Interop();

/** Starts the circuit with `options` (top level or under `circuit`); resolves once it is connected. */
export function start(options?: unknown): Promise<void> {
  if (started) {
    // Calling again is how a page awaits the automatic start; options can no longer apply.
    if (options !== undefined) console.warn('[tether] Tether.start(options) was called after the boot script started; these options are ignored');
    return started;
  }
  const resolved = normalizeOptions(
    options,
    document.baseURI,
    (message) => console.error('[tether]', message),
    (message) => console.warn('[tether]', message),
    defaultHubUrl,
  );
  const logger = new Logger(resolved.logLevel);
  circuit = new Circuit(resolved, logger, document, interop);
  started = circuit.start().catch((error: Error) => {
    logger.error(error.message);
    throw error;
  });
  return started;
}

function notStarted(): Promise<never> {
  return Promise.reject(new Error('Tether.start() has not been called'));
}

/** Rejoins the circuit: true when connected, false when the server no longer has it; rejects when unreachable. */
export function reconnect(): Promise<boolean> {
  return circuit ? circuit.reconnect() : notStarted();
}

/** Persists the circuit on the server and pauses the page; `resume()` continues it (here or on another server). */
export function pause(): Promise<boolean> {
  return circuit ? circuit.pause() : notStarted();
}

/** Continues a paused circuit from the server's store: true when it runs again. */
export function resume(): Promise<boolean> {
  return circuit ? circuit.resume() : notStarted();
}

/** Ends the circuit on the server. */
export function disconnect(): void {
  circuit?.disconnect();
}

/**
 * Goes to `uri`: inside the page's origin a history entry (`replace` swaps the current one) reported to the
 * server, else a page load.
 */
export function navigateTo(uri: string, options?: { replace?: boolean }): void {
  const replace = !!options?.replace;
  if (circuit) circuit.navigateTo(uri, replace);
  else load(uri, replace);
}

/** Calls the server function `name`; resolves with its result. */
export function invokeServer(name: string, ...args: unknown[]): Promise<unknown> {
  return circuit ? circuit.invokeServer(name, args) : notStarted();
}

/** Sends hub method `target` with arguments already encoded as a JSON array, answer not awaited; falsy when not connected (the upload module's chunks). */
export function send(target: string, argsJson: string) {
  return circuit?.send(target as ServerMethod, argsJson);
}

/** Makes `fn` callable from the server (`T.InvokeJS`) under `name`. */
export function registerFunction(name: string, fn: (...args: unknown[]) => unknown): void {
  interop.registerFunction(name, fn);
}

/**
 * Notes where the hub is (next to the script when it was served as `{hub}/tether.js`) and starts by itself
 * unless the script tag has `autostart="false"`.
 */
export function autostart(script: HTMLOrSVGScriptElement | null): void {
  const src = (script as HTMLScriptElement | null)?.src;
  if (src && new URL(src).pathname.endsWith(`/${BOOT_SCRIPT_NAME}`)) defaultHubUrl = src.slice(0, src.lastIndexOf('/'));
  if (script?.getAttribute('autostart') === 'false') return;
  const go = () => void start().catch(() => {});
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go, { once: true });
  else go();
}
