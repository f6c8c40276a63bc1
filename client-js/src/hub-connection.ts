// A compact client for the JSON hub protocol. One `HubConnection` is one negotiated connection: it negotiates,
// tries WebSockets then long polling, does the handshake, and from then on frames messages, answers
// completions, sends keep-alive pings and watches the server timeout. It never reconnects by itself: when the
// transport closes it reports once through `onclose`, and the circuit decides what happens next.
import { asHubMessage, checkHandshakeResponse, frame, invocationFrame, parseFrames } from './hub-protocol';
import type { Logger } from './log';
import { LongPollingTransport } from './long-polling';
import { negotiate, withQuery } from './negotiate';
import { HANDSHAKE_REQUEST, MessageType, type HubMessage } from './protocol';
import type { Transport } from './transport';
import { WebSocketTransport } from './websocket';

/** How to reach the hub and how patient to be with it. */
export interface HubConnectionOptions {
  /** Absolute hub URL. */
  url: string;
  serverTimeoutMs: number;
  keepAliveMs: number;
  handshakeTimeoutMs: number;
  logger: Logger;
  /** Transports in order of preference; the default tries WebSockets, then long polling. */
  transports?: Transport['name'][];
}

type Handler = (...args: unknown[]) => void;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** One hub connection; see the module comment for its lifecycle. */
export class HubConnection {
  /** Called once when the connection ends: without an error after `stop()`, with one when it was lost. */
  onclose: (error?: Error) => void = () => {};
  /** Called with true when the server has been silent for two thirds of the server timeout, false when it speaks again. */
  onslow: (slow: boolean) => void = () => {};
  transport?: Transport;
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<string, Pending>();
  #nextInvocationId = 1;
  #nextStreamId = 1;
  #received = '';
  #handshake?: { resolve: () => void; reject: (error: Error) => void };
  #connected = false;
  #ended = false;
  #slow = false;
  #timeoutTimer?: ReturnType<typeof setTimeout>;
  #slowTimer?: ReturnType<typeof setTimeout>;
  #pingTimer?: ReturnType<typeof setTimeout>;
  /** Messages written inside `together`, sent as one frame when it returns. */
  #corked?: string[];

  readonly #options: HubConnectionOptions;

  constructor(options: HubConnectionOptions) {
    this.#options = options;
  }

  /** True between a finished handshake and the end of the connection. */
  get isConnected(): boolean {
    return this.#connected;
  }

  /** Registers the handler for server-to-client invocations of `target`. */
  on(target: string, handler: Handler): void {
    this.#handlers.set(target, handler);
  }

  /** Negotiates and connects, falling back to long polling when WebSockets fail. */
  async start(): Promise<void> {
    const { url, logger } = this.#options;
    const preferred = this.#options.transports ?? ['WebSockets', 'LongPolling'];
    let negotiation = await negotiate(url);
    const offered = negotiation.availableTransports.map((t) => t.transport);
    const usable = preferred.filter((name) => offered.includes(name) && (name !== 'WebSockets' || typeof WebSocket !== 'undefined'));
    if (usable.length === 0) {
      throw new Error(`the hub at ${url} offers no usable transport (it offers: ${offered.join(', ') || 'none'})`);
    }
    let lastError: Error | undefined;
    for (const [index, name] of usable.entries()) {
      // A failed attempt may have used up the connection token, so every fallback negotiates afresh.
      if (index > 0) negotiation = await negotiate(url);
      const transport = name === 'WebSockets' ? new WebSocketTransport() : new LongPollingTransport();
      try {
        await this.#connectWith(transport, withQuery(url, 'id', negotiation.connectionToken));
        logger.debug(`connected to ${url} over ${name}`);
        return;
      } catch (error) {
        lastError = error as Error;
        if (this.#ended) throw lastError;
        this.#received = '';
        const next = usable[index + 1];
        if (next) logger.warn(`${name} failed, falling back to ${next === 'LongPolling' ? 'long polling' : next}: ${lastError.message}`);
      }
    }
    throw lastError ?? new Error('no transport connected');
  }

  /**
   * Calls `target` (with `items`, when given, as one client-to-server stream) and resolves with the server's
   * Completion result.
   */
  invoke(target: string, args: unknown[] | string, items?: string[]): Promise<unknown> {
    if (!this.#connected) return Promise.reject(new Error(`not connected to the server: ${target} was not sent`));
    const invocationId = String(this.#nextInvocationId++);
    return new Promise((resolve, reject) => {
      this.#pending.set(invocationId, { resolve, reject });
      this.#call(target, args, items, invocationId);
    });
  }

  /**
   * Calls `target` without waiting for an answer, with `items` (when given) as one client-to-server stream.
   * Returns false when the connection is not open.
   */
  send(target: string, args: unknown[] | string, items?: string[]): boolean {
    if (this.#connected) this.#call(target, args, items);
    return this.#connected;
  }

  /** `args` is the argument list, or its JSON text when the caller already encoded it. */
  #call(target: string, args: unknown[] | string, items?: string[], invocationId?: string): void {
    const streamId = items && String(this.#nextStreamId++);
    const json = typeof args === 'string' ? args : JSON.stringify(args);
    this.#write(invocationFrame(target, json, invocationId, items && [streamId!]));
    for (const item of items ?? []) this.#write({ type: MessageType.StreamItem, invocationId: streamId, item });
    if (items) this.#write({ type: MessageType.Completion, invocationId: streamId });
  }

  /**
   * Runs `fn`; every message it writes goes out in one transport frame (one WebSocket message, one POST), so the
   * server reads them at once.
   */
  together<T>(fn: () => T): T {
    if (this.#corked) return fn();
    const corked: string[] = (this.#corked = []);
    try {
      return fn();
    } finally {
      this.#corked = undefined;
      if (corked.length > 0) this.transport?.send(corked.join(''));
    }
  }

  /** Ends the connection; `onclose` follows without an error. */
  stop(): void {
    if (this.transport) this.transport.stop();
    else this.#finish();
  }

  async #connectWith(transport: Transport, url: string): Promise<void> {
    this.transport = transport;
    const done = new Promise<void>((resolve, reject) => {
      this.#handshake = { resolve, reject };
    });
    // Until the handshake is done a closing transport fails this attempt only, so the next transport may try.
    transport.onreceive = (data) => this.#receive(data);
    transport.onclose = (error) =>
      this.#handshake ? this.#handshake.reject(error ?? new Error('the connection closed during the handshake')) : this.#finish(error);
    try {
      await transport.connect(url);
    } catch (error) {
      this.#handshake = undefined;
      this.transport = undefined;
      throw error;
    }
    const timer = setTimeout(
      () => this.#handshake?.reject(new Error(`the server did not answer the handshake within ${this.#options.handshakeTimeoutMs} ms`)),
      this.#options.handshakeTimeoutMs,
    );
    transport.send(frame(HANDSHAKE_REQUEST));
    try {
      await done;
    } catch (error) {
      transport.onclose = () => {};
      transport.stop();
      this.transport = undefined;
      throw error;
    } finally {
      clearTimeout(timer);
      this.#handshake = undefined;
    }
    this.#resetServerTimeout();
    this.#resetPing();
  }

  /** Sends a message, or a frame already encoded. */
  #write(message: object | string): void {
    const text = typeof message === 'string' ? message : frame(message);
    if (this.#corked) this.#corked.push(text);
    else this.transport?.send(text);
    this.#resetPing();
  }

  #receive(data: string): void {
    this.#resetServerTimeout();
    let messages: unknown[];
    try {
      const parsed = parseFrames(this.#received + data);
      this.#received = parsed.rest;
      messages = parsed.messages;
    } catch (error) {
      this.#abort(new Error(`the server sent malformed JSON: ${(error as Error).message}`));
      return;
    }
    for (const raw of messages) {
      const handshake = this.#handshake;
      if (handshake) {
        try {
          checkHandshakeResponse(raw);
        } catch (error) {
          handshake.reject(error as Error);
          return;
        }
        // Connected from here on: messages that follow in the same frame may already need to send.
        this.#handshake = undefined;
        this.#connected = true;
        handshake.resolve();
        continue;
      }
      try {
        this.#dispatch(asHubMessage(raw));
      } catch (error) {
        this.#abort(error as Error);
        return;
      }
    }
  }

  #dispatch(message: HubMessage): void {
    switch (message.type) {
      case MessageType.Invocation: {
        const handler = this.#handlers.get(message.target ?? '');
        if (message.invocationId !== undefined) {
          this.#write({ type: MessageType.Completion, invocationId: message.invocationId, error: `the client has no result handler for '${message.target}'` });
        }
        if (!handler) {
          this.#options.logger.warn(`the server invoked '${message.target}', which this client does not handle`);
          return;
        }
        try {
          handler(...(message.arguments ?? []));
        } catch (error) {
          this.#options.logger.error(`the handler for '${message.target}' failed:`, error);
        }
        return;
      }
      case MessageType.Completion: {
        const pending = this.#pending.get(message.invocationId ?? '');
        if (!pending) {
          this.#options.logger.warn(`completion for unknown invocation ${message.invocationId}`);
          return;
        }
        this.#pending.delete(message.invocationId!);
        if (message.error !== undefined) pending.reject(new Error(message.error));
        else pending.resolve(message.result);
        return;
      }
      case MessageType.Ping:
        return;
      case MessageType.Close:
        this.#abort(message.error ? new Error(`the server closed the connection: ${message.error}`) : undefined);
        return;
      default:
        this.#options.logger.warn(`ignored hub message of type ${message.type}`);
    }
  }

  #abort(error?: Error): void {
    const transport = this.transport;
    if (!transport) return;
    transport.onclose = () => {};
    transport.stop();
    this.#finish(error);
  }

  #resetServerTimeout(): void {
    if (this.#slow) {
      this.#slow = false;
      this.onslow(false);
    }
    clearTimeout(this.#timeoutTimer);
    clearTimeout(this.#slowTimer);
    if (!this.#connected || this.transport?.inherentKeepAlive) return;
    const timeout = this.#options.serverTimeoutMs;
    this.#slowTimer = setTimeout(() => {
      this.#slow = true;
      this.onslow(true);
    }, (timeout * 2) / 3);
    this.#timeoutTimer = setTimeout(
      () => this.#abort(new Error(`the server sent nothing for ${timeout} ms (server timeout); the connection is considered lost`)),
      timeout,
    );
  }

  #resetPing(): void {
    clearTimeout(this.#pingTimer);
    if (!this.#connected || this.transport?.inherentKeepAlive) return;
    this.#pingTimer = setTimeout(() => this.#write({ type: MessageType.Ping }), this.#options.keepAliveMs);
  }

  #finish(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    const wasConnected = this.#connected;
    this.#connected = false;
    clearTimeout(this.#timeoutTimer);
    clearTimeout(this.#slowTimer);
    clearTimeout(this.#pingTimer);
    this.#handshake?.reject(error ?? new Error('the connection closed during the handshake'));
    const reason = error ?? new Error('the connection was closed');
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    if (wasConnected) this.onclose(error);
  }
}
