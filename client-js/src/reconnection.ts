// The built-in reconnection loop, used unless the page passes its own `reconnectionHandler`. Connection down:
// show the display, then for each attempt wait the retry delay (cut short when the tab becomes visible) and
// ask the circuit to reconnect. The loop ends when the circuit calls `onConnectionUp` (success, from this loop
// or from a manual `Tether.reconnect()`), when the server answers that the circuit is gone (rejected), or when
// the retry delays run out (failed).
import type { Logger } from './log';
import type { ReconnectionHandler, ReconnectionOptions } from './options';
import type { ReconnectDisplay } from './reconnect-display';
import { retryDelay, waitForRetry } from './retry';

/** Retries with the configured delays and reports progress to a display. */
export class DefaultReconnectionHandler implements ReconnectionHandler {
  #running?: AbortController;
  #display?: ReconnectDisplay;

  readonly #reconnect: () => Promise<boolean>;
  readonly #createDisplay: () => ReconnectDisplay;
  readonly #logger: Logger;

  constructor(reconnect: () => Promise<boolean>, createDisplay: () => ReconnectDisplay, logger: Logger) {
    this.#reconnect = reconnect;
    this.#createDisplay = createDisplay;
    this.#logger = logger;
  }

  onConnectionDown(options: ReconnectionOptions, error?: Error): void {
    if (this.#running) return;
    this.#logger.warn('the connection to the server was lost; rejoining.', error?.message ?? '');
    this.#display ??= this.#createDisplay();
    const running = new AbortController();
    this.#running = running;
    void this.#retryLoop(options, running.signal);
  }

  onConnectionUp(): void {
    this.#running?.abort();
    this.#running = undefined;
    this.#display?.update('hide', 0, 0);
  }

  /** Shows the slow-connection signal, or clears it. */
  onConnectionSlow(slow: boolean): void {
    if (this.#running) return;
    this.#display ??= this.#createDisplay();
    this.#display.update(slow ? 'connectionslow' : 'hide', 0, 0);
  }

  async #retryLoop(options: ReconnectionOptions, signal: AbortSignal): Promise<void> {
    const display = this.#display!;
    const report = (message: string) => console.error('[tether]', message);
    for (let previousAttempts = 0; ; previousAttempts++) {
      const delay = retryDelay(options, previousAttempts, report);
      if (signal.aborted) return;
      if (delay === null) {
        this.#running = undefined;
        this.#logger.error(`could not rejoin the server after ${previousAttempts} attempts; call Tether.reconnect() to try again.`);
        display.update('failed', previousAttempts, 0);
        return;
      }
      const attempt = previousAttempts + 1;
      const state = attempt > 1 ? 'retrying' : 'show';
      display.update(state, attempt, Math.ceil(delay / 1000));
      await waitForRetry(delay, signal, (seconds) => display.update(state, attempt, seconds));
      if (signal.aborted) return;
      if (delay > 0) display.update(state, attempt, 0);
      try {
        const rejoined = await this.#reconnect();
        if (signal.aborted) return;
        this.#running = undefined;
        if (!rejoined) display.update('rejected', attempt, 0);
        return;
      } catch (error) {
        this.#logger.debug(`reconnection attempt ${attempt} failed:`, (error as Error)?.message);
      }
    }
  }
}
