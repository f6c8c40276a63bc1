// Stateful reconnect with the official client over WebSockets: the server cuts the socket mid-stream and the
// client resumes the same connection without losing or duplicating a message in either direction.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { startServer } from '../support/server.mjs';

let server;
before(async () => { server = await startServer('chat'); });
after(async () => { await server?.stop(); });

/** A WebSocket class for the client that counts the sockets it opens. */
function countingWebSocket() {
  const counter = { opened: 0 };
  class Counted extends WebSocket {
    constructor(...args) { super(...args); counter.opened += 1; }
  }
  return { counter, Counted };
}

/** A chat connection over WebSockets with stateful reconnect in `protocol`, and its socket counter. */
function statefulClient(protocol) {
  const { counter, Counted } = countingWebSocket();
  const c = new signalR.HubConnectionBuilder()
    .withUrl(`${server.url}/chathub`, { transport: signalR.HttpTransportType.WebSockets, WebSocket: Counted })
    .withHubProtocol(protocol)
    .withStatefulReconnect()
    .configureLogging(signalR.LogLevel.None)
    .build();
  return { counter, c };
}

for (const [protocolName, protocol] of [['json', () => new signalR.JsonHubProtocol()], ['messagepack', () => new MessagePackHubProtocol()]]) test(`a socket killed mid-stream resumes with nothing lost or duplicated (${protocolName})`, async () => {
  const { counter, c } = statefulClient(protocol());
  let closedWith = null;
  c.onclose((e) => { closedWith = e ?? 'closed'; });
  await c.start();
  const firstId = c.connectionId;
  try {
    const items = [];
    // The server aborts the socket right after queuing item 50 of 300.
    await new Promise((resolve, reject) => c.stream('CounterWithDrop', 300, 50)
      .subscribe({ next: (i) => items.push(i), complete: resolve, error: reject }));
    assert.equal(items.length, 300);
    assert.deepEqual(items, Array.from({ length: 300 }, (_, i) => i));
    assert.equal(counter.opened, 2, 'the client reconnected on a second socket');
    // Client-to-server traffic after the reconnect reaches the same connection.
    const echoes = await Promise.all(Array.from({ length: 20 }, (_, i) => c.invoke('Echo', i)));
    assert.deepEqual(echoes, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(c.connectionId, firstId);
    assert.equal(closedWith, null);
  } finally { await c.stop(); }
});

test('messages sent while the socket is down are delivered once after the reconnect', async () => {
  const { counter, c } = statefulClient(new signalR.JsonHubProtocol());
  const received = [];
  let done;
  const all = new Promise((resolve) => { done = resolve; });
  c.on('ReceiveMessage', (user, text) => { received.push(text); if (received.length === 40) done(); });
  await c.start();
  try {
    // Cut the socket (the stream aborts it after item 0), then keep sending at once.
    const items = [];
    const stream = new Promise((resolve, reject) => c.stream('CounterWithDrop', 5, 0)
      .subscribe({ next: (i) => items.push(i), complete: resolve, error: reject }));
    const sends = Array.from({ length: 40 }, (_, i) => c.send('SendMessage', 'me', `m${i}`));
    await Promise.all(sends);
    await stream;
    await all;
    assert.deepEqual(items, [0, 1, 2, 3, 4]);
    assert.deepEqual(received, Array.from({ length: 40 }, (_, i) => `m${i}`));
    assert.equal(counter.opened, 2);
  } finally { await c.stop(); }
});
