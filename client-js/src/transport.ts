// The interface both transports implement. A transport moves text frames; it knows nothing of hub messages.
// `onclose` is called exactly once per connected transport: without an error after `stop()` or a clean end,
// with one when the connection was lost.

/** A connected duplex text channel to the hub. */
export interface Transport {
  /** The transport's name as negotiation spells it. */
  readonly name: 'WebSockets' | 'LongPolling';
  /** True when the server sends no pings on it, so silence is not a sign of a lost connection. */
  readonly inherentKeepAlive: boolean;
  /** Opens the channel; rejects when it cannot. */
  connect(url: string): Promise<void>;
  /** Queues a frame; frames arrive in the order they were sent. */
  send(data: string): void;
  /** Closes the channel; `onclose` follows without an error. */
  stop(): void;
  onreceive: (data: string) => void;
  onclose: (error?: Error) => void;
}
