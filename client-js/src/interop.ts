// Calls between page JavaScript and the server. Server → browser: `T.InvokeJS` names a function registered
// with `Tether.registerFunction` or a dotted path from `window`; its result (awaited) or error goes back in
// `EndInvokeJS`. Browser → server: `Tether.invokeServer` sends `InvokeServer` and the promise settles on the
// matching `T.EndInvokeServer`. Call ids are per circuit and never reused.

type AnyFunction = (...args: unknown[]) => unknown;

/** Holds registered functions and the server calls awaiting an answer. */
export class Interop {
  readonly #functions = new Map<string, AnyFunction>();
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextCallId = 1;

  readonly #root: object;

  constructor(root: object = globalThis) {
    this.#root = root;
  }

  /** Makes `fn` callable from the server under `name`. */
  registerFunction(name: string, fn: AnyFunction): void {
    if (typeof name !== 'string' || !name) throw new TypeError('Tether.registerFunction(name, fn): name must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError(`Tether.registerFunction('${name}', fn): fn must be a function`);
    this.#functions.set(name, fn);
  }

  /** Runs a `T.InvokeJS` call; resolves with the `EndInvokeJS` arguments. */
  async invokeJS(callId: number, identifier: string, args: unknown[]): Promise<[number, boolean, unknown]> {
    try {
      const result = await this.#resolve(identifier)(...(Array.isArray(args) ? args : []));
      return [callId, true, result === undefined ? null : result];
    } catch (error) {
      return [callId, false, (error as Error)?.message ?? String(error)];
    }
  }

  /** Starts a server call: returns its id and the promise that `endInvokeServer` settles. */
  beginInvokeServer(): [number, Promise<unknown>] {
    const callId = this.#nextCallId++;
    const promise = new Promise((resolve, reject) => this.#calls.set(callId, { resolve, reject }));
    return [callId, promise];
  }

  /** Settles a server call from `T.EndInvokeServer`; false when the id is unknown. */
  endInvokeServer(callId: number, succeeded: boolean, resultOrError: unknown): boolean {
    const call = this.#calls.get(callId);
    if (!call) return false;
    this.#calls.delete(callId);
    if (succeeded) call.resolve(resultOrError);
    else call.reject(new Error(String(resultOrError)));
    return true;
  }

  /** Fails every unanswered server call (the circuit ended or the call could not be sent). */
  failCall(callId: number, error: Error): void {
    this.#calls.get(callId)?.reject(error);
    this.#calls.delete(callId);
  }

  /** Fails every unanswered server call. */
  failAll(error: Error): void {
    for (const id of [...this.#calls.keys()]) this.failCall(id, error);
  }

  #resolve(identifier: string): AnyFunction {
    const registered = this.#functions.get(identifier);
    if (registered) return registered;
    let owner: unknown = undefined;
    let value: unknown = this.#root;
    for (const part of String(identifier).split('.')) {
      if (value === null || value === undefined) break;
      owner = value;
      value = (value as Record<string, unknown>)[part];
    }
    if (typeof value !== 'function') throw new Error(`no function '${identifier}': register it with Tether.registerFunction or make it reachable from window`);
    return (value as AnyFunction).bind(owner);
  }
}
