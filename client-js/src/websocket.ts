// The WebSockets transport.
import { diagnoseWebSocket } from './diagnostics';
import type { Transport } from './transport';

/** Runs the hub connection over one browser WebSocket. */
export class WebSocketTransport implements Transport {
  readonly name = 'WebSockets';
  readonly inherentKeepAlive = false;
  onreceive: (data: string) => void = () => {};
  onclose: (error?: Error) => void = () => {};
  #socket?: WebSocket;
  #closed = false;

  connect(url: string): Promise<void> {
    const wsUrl = url.replace(/^http/, 'ws');
    return new Promise((resolve, reject) => {
      let opened = false;
      const socket = new WebSocket(wsUrl);
      this.#socket = socket;
      socket.onopen = () => {
        opened = true;
        resolve();
      };
      socket.onmessage = (event) => {
        if (typeof event.data === 'string') this.onreceive(event.data);
      };
      socket.onclose = (event) => {
        if (!opened) {
          reject(new Error(diagnoseWebSocket(url, event.code)));
          return;
        }
        const clean = event.code === 1000;
        this.#finish(clean ? undefined : new Error(`the WebSocket closed with code ${event.code}${event.reason ? ` (${event.reason})` : ''}`));
      };
    });
  }

  send(data: string): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(data);
  }

  stop(): void {
    this.#socket?.close(1000);
    this.#finish();
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#socket) {
      this.#socket.onmessage = null;
      this.#socket.onclose = null;
    }
    this.onclose(error);
  }
}
