// The long-polling transport: a loop of GET requests receives, ordered POSTs send, DELETE ends the connection.
// Used when WebSockets fail. The server sends no pings here, so the hub connection skips its server timeout.
import { httpError } from './diagnostics';
import type { Transport } from './transport';

/** Runs the hub connection over HTTP requests. */
export class LongPollingTransport implements Transport {
  readonly name = 'LongPolling';
  readonly inherentKeepAlive = true;
  onreceive: (data: string) => void = () => {};
  onclose: (error?: Error) => void = () => {};
  #url = '';
  #running = false;
  #closed = false;
  #poll?: AbortController;
  #sending: Promise<void> = Promise.resolve();

  async connect(url: string): Promise<void> {
    this.#url = url;
    // The first poll answers at once; it proves the server accepts this connection on long polling.
    const response = await this.#request('GET', this.#pollUrl());
    if (response.status !== 200) throw httpError('poll', response.status, url);
    this.#running = true;
    const early = await response.text();
    if (early) this.onreceive(early);
    void this.#pollLoop();
  }

  send(data: string): void {
    this.#sending = this.#sending.then(async () => {
      if (!this.#running) return;
      let response: Response;
      try {
        response = await this.#request('POST', this.#url, data);
      } catch {
        this.#fail(0);
        return;
      }
      if (!response.ok) this.#fail(response.status);
    });
  }

  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#poll?.abort();
    void this.#request('DELETE', this.#url).catch(() => {});
    this.#finish();
  }

  async #pollLoop(): Promise<void> {
    while (this.#running) {
      this.#poll = new AbortController();
      let response: Response;
      try {
        response = await this.#request('GET', this.#pollUrl(), undefined, this.#poll.signal);
      } catch {
        if (this.#running) this.#fail(0);
        return;
      }
      if (!this.#running) return;
      if (response.status === 204) {
        this.#finish();
        return;
      }
      if (response.status !== 200) {
        this.#fail(response.status);
        return;
      }
      const text = await response.text();
      if (text && this.#running) this.onreceive(text);
    }
  }

  #pollUrl(): string {
    return `${this.#url}&_=${Date.now()}`;
  }

  #request(method: string, url: string, body?: string, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'text/plain;charset=UTF-8' };
    return fetch(url, { method, body, signal, headers, credentials: 'include', cache: 'no-store' });
  }

  #fail(status: number): void {
    this.#finish(httpError('poll', status, this.#url));
  }

  #finish(error?: Error): void {
    this.#running = false;
    if (this.#closed) return;
    this.#closed = true;
    this.onclose(error);
  }
}
