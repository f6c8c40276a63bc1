// One circuit as the browser sees it. Lifecycle: `start()` opens a hub connection and calls `StartCircuit`
// with the page's root descriptors; the secret it returns is what `ConnectCircuit` and the disconnect beacon
// need. A lost connection goes to the reconnection handler, whose attempts call `reconnect()`: a new hub
// connection and `ConnectCircuit(secret)`. The circuit ends (no more reconnecting) on `T.Error`, a rejected
// `ConnectCircuit`, `disconnect()`, page hide, or when app script has removed every root region from the page
// for `ORPHAN_MS` (nothing is left for the circuit to drive). Handlers are bound per hub connection, so a render
// acknowledgement always goes out on the connection its batch came in on. Navigation inside the page's origin
// (`Tether.navigateTo`, `T.Navigate`, back/forward, links inside a router region) changes the history entry and
// reports `LocationChanged`; `T.Error` shows the error bar (error-ui.ts). A render acknowledgement is owed to
// one hub connection at a time and covers every earlier batch: it rides in the frame of the next call on that
// connection, or goes alone after `ACK_DELAY_MS`, or at once for an apply error or a batch marked `ackNow`.
import { pauseWhenHidden } from './auto-pause';
import { DomPatcher, findRoots, rootDescriptors } from './dom-patcher';
import { showErrorUi } from './error-ui';
import { EventDelegator } from './events';
import { chunkText, fitsUtf8 } from './hub-protocol';
import { HubConnection } from './hub-connection';
import type { Interop } from './interop';
import type { Logger } from './log';
import { loadModules } from './modules';
import { interceptLinks, settle } from './navigation';
import type { ReconnectionHandler, ResolvedOptions } from './options';
import { ACK_DELAY_MS, CHUNK_CHARS, ClientMethod, DISCONNECT_PATH, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, ServerMethod, type RenderBatch } from './protocol';
import { createDisplay, type ReconnectDisplay } from './reconnect-display';
import { DefaultReconnectionHandler } from './reconnection';

/** How long the page may have no root region before the circuit ends (a root put back in time keeps it). */
export const ORPHAN_MS = 2000;

/** A full page load of `href`, replacing the history entry when `replace`. */
export function load(href: string, replace: boolean): void {
  if (replace) location.replace(href);
  else location.assign(href);
}

/** Where the circuit is in its life. */
export type CircuitState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'paused' | 'ended';

/** The browser side of one circuit. */
export class Circuit {
  state: CircuitState = 'idle';
  #hub?: HubConnection;
  #secret?: string;
  #display?: ReconnectDisplay;
  #pausing = false;
  #reconnecting?: Promise<boolean>;
  #patcher?: DomPatcher;
  readonly #events: EventDelegator;
  readonly #handler: ReconnectionHandler & { onConnectionSlow?(slow: boolean): void };
  #endedByPageHide = false;
  #rootWatch?: MutationObserver;
  #orphanTimer?: ReturnType<typeof setTimeout>;
  #stopLinks?: () => void;
  #stopAutoPause?: () => void;
  /** The newest batch applied but not yet acknowledged, and the connection it came in on. */
  #owedAck?: { hub: HubConnection; batchId: number };
  #ackTimer?: ReturnType<typeof setTimeout>;

  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #doc: Document;
  readonly #interop: Interop;

  constructor(options: ResolvedOptions, logger: Logger, doc: Document, interop: Interop) {
    this.#options = options;
    this.#logger = logger;
    this.#doc = doc;
    this.#interop = interop;
    this.#events = new EventDelegator(doc, (handlerId, name, args, confirm) =>
      this.send(ServerMethod.DispatchEvent, [handlerId, name, args], this.#hub, confirm),
    );
    this.#handler =
      options.reconnectionHandler ??
      new DefaultReconnectionHandler(
        () => this.reconnect(),
        () => createDisplay(options.reconnectionOptions.dialogId, options.reconnectionOptions.maxRetries, () => this.reconnect()),
        logger,
      );
  }

  /** Connects and starts the circuit for the page's root regions. */
  async start(): Promise<void> {
    const roots = findRoots(this.#doc);
    if (roots.length === 0) {
      this.#logger.info('the page has no interactive regions; no circuit is started');
      return;
    }
    this.#patcher = new DomPatcher(roots, (field) => this.#events.isStale(field));
    this.state = 'connecting';
    const hub = this.#createHub();
    try {
      await hub.start();
      // Through send, so descriptors over the message limit (large prerendered state) travel as `Chunked`.
      const secret = await this.send(ServerMethod.StartCircuit, [PROTOCOL_VERSION, this.#doc.baseURI, location.href, rootDescriptors(roots)], hub, true);
      if (typeof secret !== 'string' || !secret) throw new Error(`the server answered ${JSON.stringify(secret)}, not a circuit secret`);
      this.#secret = secret;
    } catch (error) {
      this.state = 'ended';
      hub.stop();
      throw new Error(`could not start the circuit at ${this.#options.hub.url}: ${(error as Error).message}`);
    }
    this.#hub = hub;
    this.state = 'connected';
    this.#events.attach();
    addEventListener('pagehide', this.#onPageHide);
    addEventListener('pageshow', this.#onPageShow);
    addEventListener('popstate', this.#reportLocation);
    // While disconnected the server could not swap the page: the link loads normally.
    this.#stopLinks = interceptLinks(this.#doc, (url) => (this.state === 'connected' ? this.navigateTo(url.href, false, true) : load(url.href, false)));
    this.#rootWatch = new MutationObserver(() => {
      if (roots.some((root) => root.isConnected)) {
        clearTimeout(this.#orphanTimer);
        this.#orphanTimer = undefined;
      } else
        this.#orphanTimer ??= setTimeout(() => {
          this.#logger.info('the page has no interactive regions left; ending the circuit');
          this.disconnect();
        }, ORPHAN_MS);
    });
    this.#rootWatch.observe(this.#doc, { childList: true, subtree: true });
    const hiddenMs = this.#options.pauseWhenHiddenMs;
    if (hiddenMs) this.#stopAutoPause = pauseWhenHidden(this.#doc, hiddenMs, this);
    this.#notify('onCircuitOpened');
  }

  /**
   * Rejoins the circuit: true when connected (already, or again), false when the server answered that the
   * circuit is gone; rejects when the server could not be reached.
   */
  reconnect(): Promise<boolean> {
    if (this.state === 'connected') return Promise.resolve(true);
    if (this.state === 'ended' || !this.#secret) return Promise.resolve(false);
    this.#reconnecting ??= this.#connectAgain().finally(() => (this.#reconnecting = undefined));
    return this.#reconnecting;
  }

  /** Persists the circuit on the server and pauses here; `resume()` continues it. */
  async pause(): Promise<boolean> {
    const hub = this.#hub;
    if (this.state !== 'connected' || !hub) return false;
    this.#pausing = true;
    if (this.#owedAck?.hub === hub) this.#sendOwedAck();
    const paused = (await hub.invoke(ServerMethod.PauseCircuit, []).catch(() => false)) === true;
    this.#pausing = false;
    if (paused) {
      this.state = 'paused';
      hub.stop();
    }
    return paused;
  }

  /** Continues a paused (or disconnected) circuit: true when it runs again. */
  async resume(): Promise<boolean> {
    if (this.state === 'paused') this.state = 'disconnected';
    const resumed = await this.reconnect().catch(() => false);
    // The paused display is this circuit's own (the reconnection handler hides only what it showed).
    if (!resumed) this.#pausedDisplay().update('resume-failed', 0, 0);
    else this.#display?.update('hide', 0, 0);
    return resumed;
  }

  #pausedDisplay(): ReconnectDisplay {
    const { dialogId, maxRetries } = this.#options.reconnectionOptions;
    return (this.#display ??= createDisplay(dialogId, maxRetries, () => this.resume()));
  }

  /** Ends the circuit on the server and here. */
  disconnect(): void {
    this.#sendBeacon();
    this.#end();
  }

  /**
   * Goes to `uri`: inside the page's origin a new history entry (or the current one replaced) reported to the
   * server with `LocationChanged`; elsewhere, or without a live circuit, a page load.
   */
  navigateTo(uri: string, replace: boolean, intercepted = false): void {
    const url = new URL(uri, this.#doc.baseURI);
    if (url.origin !== location.origin || !this.#secret) return load(url.href, replace);
    history[replace ? 'replaceState' : 'pushState'](null, '', url);
    // Confirmed: the answer comes after the batch the navigation caused, so the new page is in place to settle.
    const sent = this.send(ServerMethod.LocationChanged, [url.href, intercepted], this.#hub, true);
    if (sent) this.#reported = url.href;
    if (sent instanceof Promise) sent.then(() => settle(this.#doc, url.hash), () => {});
  }

  /** Calls a server function registered for `Tether.invokeServer`. */
  invokeServer(name: string, args: unknown[]): Promise<unknown> {
    const [callId, answer] = this.#interop.beginInvokeServer();
    if (!this.send(ServerMethod.InvokeServer, [callId, name, args])) {
      this.#interop.failCall(callId, new Error(`cannot call '${name}': not connected to the server`));
    }
    return answer;
  }

  async #connectAgain(): Promise<boolean> {
    const hub = this.#createHub();
    await hub.start();
    let resumed: unknown;
    try {
      resumed = await hub.invoke(ServerMethod.ConnectCircuit, [this.#secret]);
    } catch (error) {
      hub.stop();
      throw error;
    }
    if (this.state === 'ended') {
      hub.stop();
      return false;
    }
    // Gone from this server: it may wait in the circuit store (evicted, paused, or its server shut down).
    // A resumed circuit is rebuilt: its batches count from 1 again and may arrive before the answer.
    if (resumed !== true) {
      this.#patcher!.lastBatchId = 0;
      try {
        resumed = await hub.invoke(ServerMethod.ResumeCircuit, [this.#secret]);
      } catch (error) {
        // A server that cannot take it now (shutting down): an attempt that failed, not a refusal.
        hub.stop();
        throw error;
      }
    }
    if (resumed !== true) {
      hub.stop();
      this.#logger.warn('the server no longer has this circuit; the page must be reloaded');
      this.#end();
      return false;
    }
    this.#hub = hub;
    this.state = 'connected';
    this.#logger.info('rejoined the circuit');
    if (location.href !== this.#reported) this.#reportLocation();
    this.#handler.onConnectionUp();
    return true;
  }

  #createHub(): HubConnection {
    const { hub: settings } = this.#options;
    const hub = new HubConnection({ ...settings, logger: this.#logger });
    hub.on(ClientMethod.Batch, (batchId, batch, ackNow) => this.#onBatch(hub, batchId as number, batch as RenderBatch, ackNow === true));
    hub.on(ClientMethod.Error, (message) => {
      this.#logger.error(`the circuit ended on the server: ${String(message)}`);
      if (this.state !== 'ended') showErrorUi(this.#doc, String(message));
      this.#end();
    });
    hub.on(ClientMethod.InvokeJS, (callId, identifier, args) => {
      void this.#interop.invokeJS(callId as number, identifier as string, args as unknown[]).then((end) => this.send(ServerMethod.EndInvokeJS, end, hub));
    });
    hub.on(ClientMethod.EndInvokeServer, (callId, succeeded, result) => {
      if (!this.#interop.endInvokeServer(callId as number, succeeded as boolean, result)) this.#logger.warn(`answer for unknown server call ${String(callId)}`);
    });
    hub.on(ClientMethod.Navigate, (uri, replace) => this.navigateTo(uri as string, !!replace));
    // Persisted and ended on the server: a shutdown (resume at once, through the reconnection loop when the
    // socket closes) or a pause (wait for `Tether.resume()`).
    hub.on(ClientMethod.Persisted, (resumeNow) => {
      if (resumeNow || hub !== this.#hub) return;
      this.state = 'paused';
      this.#pausedDisplay().update('paused', 0, 0);
      // A pause the server decided: nothing more comes on this connection. Ours closes after its answer.
      if (!this.#pausing) hub.stop();
    });
    hub.onclose = (error) => this.#onConnectionLost(hub, error);
    hub.onslow = (slow) => {
      if (hub === this.#hub && this.state === 'connected') this.#handler.onConnectionSlow?.(slow);
    };
    return hub;
  }

  #onBatch(hub: HubConnection, batchId: number, batch: RenderBatch, ackNow: boolean): void {
    const patcher = this.#patcher!;
    const expected = patcher.lastBatchId + 1;
    const outcome = patcher.receive(batchId, batch);
    if (!outcome.ack) {
      this.#logger.warn(`render batch ${batchId} arrived while ${expected} was expected; not applied (the server sends it again)`);
      return;
    }
    if (outcome.error) this.#logger.error(`render batch ${batchId} failed: ${outcome.error}`);
    loadModules(this.#doc, this.#options.hub.url);
    if (outcome.error || ackNow) {
      // This acknowledgement covers any owed one (same connection, earlier batch).
      if (this.#owedAck?.hub === hub) this.#forgetOwedAck();
      this.send(ServerMethod.OnRenderCompleted, [batchId, outcome.error], hub);
      return;
    }
    this.#owedAck = { hub, batchId };
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = undefined;
      this.#sendOwedAck();
    }, ACK_DELAY_MS);
  }

  /** Sends the owed acknowledgement now, if its connection is still up (if not, the batch comes again). */
  #sendOwedAck(): void {
    const owed = this.#owedAck;
    this.#forgetOwedAck();
    if (owed?.hub.isConnected) owed.hub.send(ServerMethod.OnRenderCompleted, `[${owed.batchId},null]`);
  }

  #forgetOwedAck(): void {
    this.#owedAck = undefined;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  #onConnectionLost(hub: HubConnection, error?: Error): void {
    if (hub !== this.#hub || this.state !== 'connected') return;
    this.state = 'disconnected';
    this.#handler.onConnectionDown(this.#options.reconnectionOptions, error);
  }

  /**
   * Sends a call; false when not connected. With `confirm`, the call carries an invocation id and the result is
   * a promise that settles on the server's Completion. Calls over the message limit go as a `Chunked` stream
   * (confirmed the same way: the server answers `Chunked` with the target's result).
   */
  send(target: ServerMethod, args: unknown[] | string, hub = this.#hub, confirm = false): boolean | Promise<unknown> {
    if (!hub?.isConnected) {
      this.#logger.warn(`not connected to the server: ${target} was not sent`);
      return false;
    }
    const json = typeof args == 'string' ? args : JSON.stringify(args);
    const call: (target: string, args: unknown[] | string, items?: string[]) => boolean | Promise<unknown> = (confirm ? hub.invoke : hub.send).bind(hub);
    // The frame around the arguments adds the target and at most 60 bytes (type, invocation id, separator).
    const owesAck = this.#owedAck?.hub === hub;
    if (!fitsUtf8(json, MAX_MESSAGE_BYTES - target.length - 60)) {
      // A chunked call keeps one frame per chunk (that is its point): the owed ack goes alone, first.
      if (owesAck) this.#sendOwedAck();
      return call(ServerMethod.Chunked, [target], chunkText(json, CHUNK_CHARS));
    }
    if (!owesAck) return call(target, json);
    // The owed acknowledgement goes first, in the same frame.
    return hub.together(() => {
      this.#sendOwedAck();
      return call(target, json);
    });
  }

  #sendBeacon(): void {
    if (!this.#secret || this.state === 'ended') return;
    const url = this.#options.hub.url.split('?')[0] + DISCONNECT_PATH;
    navigator.sendBeacon(url, new URLSearchParams({ secret: this.#secret }));
  }

  #end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.#secret = undefined;
    this.#forgetOwedAck();
    this.#events.detach();
    this.#rootWatch?.disconnect();
    clearTimeout(this.#orphanTimer);
    removeEventListener('popstate', this.#reportLocation);
    this.#stopLinks?.();
    this.#stopAutoPause?.();
    const hub = this.#hub;
    this.#hub = undefined;
    hub?.stop();
    this.#interop.failAll(new Error('the circuit has ended'));
    this.#notify('onCircuitClosed');
  }

  /** Calls `name` on every page circuit handler; one that throws is logged and does not stop the others. */
  #notify(name: 'onCircuitOpened' | 'onCircuitClosed'): void {
    for (const handler of this.#options.circuitHandlers) {
      try {
        handler[name]?.();
      } catch (error) {
        this.#logger.error(`circuit handler ${name} threw:`, error);
      }
    }
  }

  /** The last URI the server was told about (a back/forward while disconnected is reported on reconnect). */
  #reported = location.href;

  readonly #reportLocation = () => {
    if (this.send(ServerMethod.LocationChanged, [location.href, false])) this.#reported = location.href;
  };

  // The beacon ends the circuit when the page goes away. `pagehide` (not `unload`) keeps the page eligible for
  // the back/forward cache; a page restored from it has no circuit any more, so it reloads.
  readonly #onPageHide = () => {
    if (this.state === 'ended') return;
    this.#endedByPageHide = true;
    this.disconnect();
  };

  readonly #onPageShow = (event: PageTransitionEvent) => {
    if (event.persisted && this.#endedByPageHide) location.reload();
  };
}
