// The public `Tether` API. The boot script starts once per page: automatically, unless its script tag says
// `autostart="false"`, in which case the page calls `Tether.start(options)` itself.
import { Circuit } from './circuit';
import { Interop } from './interop';
import { Logger } from './log';
import { normalizeOptions } from './options';

let circuit: Circuit | undefined;
let started: Promise<void> | undefined;
const interop = new Interop();

/** Starts the circuit with `options` (top level or under `circuit`); resolves once it is connected. */
export function start(options?: unknown): Promise<void> {
  if (started) {
    console.warn('[tether] Tether.start() was called again; the boot script starts only once per page');
    return started;
  }
  const resolved = normalizeOptions(
    options,
    document.baseURI,
    (message) => console.error('[tether]', message),
    (message) => console.warn('[tether]', message),
  );
  const logger = new Logger(resolved.logLevel);
  circuit = new Circuit(resolved, logger, document, interop);
  started = circuit.start().catch((error: Error) => {
    logger.error(error.message);
    throw error;
  });
  return started;
}

/** Rejoins the circuit: true when connected, false when the server no longer has it; rejects when unreachable. */
export function reconnect(): Promise<boolean> {
  return circuit ? circuit.reconnect() : Promise.reject(new Error('Tether.start() has not been called'));
}

/** Ends the circuit on the server. */
export function disconnect(): void {
  circuit?.disconnect();
}

/** Calls the server function `name`; resolves with its result. */
export function invokeServer(name: string, ...args: unknown[]): Promise<unknown> {
  return circuit ? circuit.invokeServer(name, args) : Promise.reject(new Error('Tether.start() has not been called'));
}

/** Makes `fn` callable from the server (`T.InvokeJS`) under `name`. */
export function registerFunction(name: string, fn: (...args: unknown[]) => unknown): void {
  interop.registerFunction(name, fn);
}

/** Starts by itself unless the script tag has `autostart="false"`. */
export function autostart(script: Element | null): void {
  if (script?.getAttribute('autostart') === 'false') return;
  const go = () => void start().catch(() => {});
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go, { once: true });
  else go();
}
