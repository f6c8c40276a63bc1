// The hub client against scripted fakes of fetch and WebSocket: negotiation, transport choice and fallback,
// handshake, invocations, pings, the slow signal and the server timeout. The real hub is exercised by the
// browser suite.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { load } from './support.mjs';

const { HubConnection } = await load('hub-connection');
const RS = '\x1e';

class FakeWebSocket {
  static OPEN = 1;
  static sockets = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeWebSocket.sockets.push(this);
  }
  send(data) {
    this.sent.push(data);
  }
  close(code) {
    this.closedWith = code;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(data) {
    this.onmessage?.({ data });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const NEGOTIATED = {
  negotiateVersion: 1,
  connectionId: 'cid',
  connectionToken: 'tok',
  availableTransports: [
    { transport: 'WebSockets', transferFormats: ['Text', 'Binary'] },
    { transport: 'LongPolling', transferFormats: ['Text', 'Binary'] },
  ],
};

const settle = () => new Promise((resolve) => setImmediate(resolve));
let requests;
let respond;
let warnings;
const logger = { debug() {}, info() {}, warn: (...a) => warnings.push(a.join(' ')), error: (...a) => warnings.push(a.join(' ')) };

let hubs;
function connection(overrides = {}) {
  return remember(new HubConnection({ url: 'http://h/hub', serverTimeoutMs: 30000, keepAliveMs: 15000, handshakeTimeoutMs: 15000, logger, ...overrides }));
}
function remember(hub) {
  hubs.push(hub);
  return hub;
}

async function connectOverWebSocket(hub) {
  const started = hub.start();
  await settle();
  const ws = FakeWebSocket.sockets.at(-1);
  ws.open();
  await settle();
  ws.receive(`{}${RS}`);
  await started;
  return ws;
}

beforeEach(() => {
  hubs = [];
  FakeWebSocket.sockets = [];
  requests = [];
  warnings = [];
  respond = async (method, url) => (url.includes('/negotiate') ? Response.json(NEGOTIATED) : new Response('', { status: 404 }));
  globalThis.WebSocket = FakeWebSocket;
  globalThis.fetch = async (url, init = {}) => {
    requests.push([init.method ?? 'GET', url, init.body]);
    return respond(init.method ?? 'GET', url, init);
  };
});

afterEach(() => {
  // Stopping clears the keep-alive and timeout timers, so no test leaves work behind.
  for (const hub of hubs) hub.stop();
  delete globalThis.WebSocket;
});

describe('hub connection', () => {
  it('negotiates, connects over WebSockets, shakes hands and exchanges messages', async () => {
    const hub = connection();
    const notified = [];
    hub.on('Notify', (text) => notified.push(text));
    const started = hub.start();
    await settle();
    assert.deepEqual(requests[0].slice(0, 2), ['POST', 'http://h/hub/negotiate?negotiateVersion=1']);
    const ws = FakeWebSocket.sockets[0];
    assert.equal(ws.url, 'ws://h/hub?id=tok');
    ws.open();
    await settle();
    assert.deepEqual(ws.sent, [`{"protocol":"json","version":1}${RS}`]);
    ws.receive(`{}${RS}{"type":1,"target":"Notify","arguments":["hi"]}${RS}`);
    await started;
    assert.ok(hub.isConnected);
    assert.deepEqual(notified, ['hi']);

    const echoed = hub.invoke('Echo', [5]);
    assert.equal(ws.sent[1], `{"type":1,"invocationId":"1","target":"Echo","arguments":[5]}${RS}`);
    ws.receive(`{"type":3,"invocationId":"1","result":5}${RS}`);
    assert.equal(await echoed, 5);
    const failed = hub.invoke('Fail', []);
    ws.receive(`{"type":3,"invocationId":"2","error":"nope"}${RS}`);
    await assert.rejects(failed, /nope/);

    assert.equal(hub.send('DispatchEvent', [1, 'click', {}]), true);
    assert.equal(ws.sent.at(-1), `{"type":1,"target":"DispatchEvent","arguments":[1,"click",{}]}${RS}`);
  });

  it('sends a call with a client-to-server stream as Invocation, StreamItems and a Completion', async () => {
    const hub = connection();
    const ws = await connectOverWebSocket(hub);
    hub.send('Chunked', ['InvokeServer'], ['[1,"big",', '["x"]]']);
    assert.deepEqual(ws.sent.slice(1).map((s) => JSON.parse(s.slice(0, -1))), [
      { type: 1, target: 'Chunked', arguments: ['InvokeServer'], streamIds: ['1'] },
      { type: 2, invocationId: '1', item: '[1,"big",' },
      { type: 2, invocationId: '1', item: '["x"]]' },
      { type: 3, invocationId: '1' },
    ]);
  });

  it('answers a server invocation that expects a result with an error Completion', async () => {
    const hub = connection();
    const ws = await connectOverWebSocket(hub);
    ws.receive(`{"type":1,"invocationId":"7","target":"Ask","arguments":[]}${RS}`);
    assert.match(ws.sent.at(-1), /"type":3,"invocationId":"7","error":"the client has no result handler for 'Ask'"/);
    assert.match(warnings.join('\n'), /invoked 'Ask', which this client does not handle/);
  });

  it('pings, signals a slow server at two thirds of the timeout and gives up at the timeout', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const hub = connection();
    const ws = await connectOverWebSocket(hub);
    const slow = [];
    let closedWith;
    hub.onslow = (s) => slow.push(s);
    hub.onclose = (error) => (closedWith = error);
    hub.send('X', []);
    t.mock.timers.tick(15000);
    assert.equal(ws.sent.at(-1), `{"type":6}${RS}`, 'a ping after the keep-alive interval of silence');
    t.mock.timers.tick(5000);
    assert.deepEqual(slow, [true]);
    ws.receive(`{"type":6}${RS}`);
    assert.deepEqual(slow, [true, false]);
    t.mock.timers.tick(29999);
    assert.equal(closedWith, undefined);
    t.mock.timers.tick(1);
    assert.match(closedWith.message, /sent nothing for 30000 ms/);
    assert.equal(hub.isConnected, false);
    assert.equal(ws.closedWith, 1000);
  });

  it('reports a lost socket once, with an error, and fails pending invocations', async () => {
    const hub = connection();
    const ws = await connectOverWebSocket(hub);
    const closes = [];
    hub.onclose = (error) => closes.push(error);
    const pending = hub.invoke('Echo', [1]);
    ws.drop(1006);
    await assert.rejects(pending, /closed with code 1006/);
    assert.equal(closes.length, 1);
    assert.match(closes[0].message, /1006/);
    hub.stop();
    assert.equal(closes.length, 1);
  });

  it('treats a Close message as the end of the connection', async () => {
    const hub = connection();
    const ws = await connectOverWebSocket(hub);
    let closedWith;
    hub.onclose = (error) => (closedWith = error);
    ws.receive(`{"type":7,"error":"Server is shutting down."}${RS}`);
    assert.match(closedWith.message, /the server closed the connection: Server is shutting down/);
  });

  it('falls back to long polling with a warning when the WebSocket fails', async () => {
    let pollWaiting;
    let polls = 0;
    respond = async (method, url, init) => {
      if (url.includes('/negotiate')) return Response.json({ ...NEGOTIATED, connectionToken: `tok${requests.filter((r) => r[1].includes('/negotiate')).length}` });
      if (method === 'GET') {
        if (polls++ === 0) return new Response('', { status: 200 });
        return new Promise((resolve) => {
          pollWaiting = resolve;
          init.signal?.addEventListener('abort', () => resolve(new Response(null, { status: 204 })));
        });
      }
      return new Response('', { status: method === 'DELETE' ? 202 : 200 });
    };
    const hub = connection();
    const started = hub.start();
    await settle();
    FakeWebSocket.sockets[0].drop(1006);
    for (let i = 0; i < 5; i++) await settle();
    assert.match(warnings[0], /^WebSockets failed, falling back to long polling: the WebSocket to http:\/\/h\/hub\?id=tok1 failed \(close code 1006\)/);
    const posts = requests.filter(([m, u]) => m === 'POST' && !u.includes('/negotiate'));
    assert.deepEqual(posts.map(([, u, b]) => [u, b]), [['http://h/hub?id=tok2', `{"protocol":"json","version":1}${RS}`]]);
    pollWaiting(new Response(`{}${RS}`, { status: 200 }));
    await started;
    assert.equal(hub.transport.name, 'LongPolling');
    hub.send('Echo', ['x']);
    for (let i = 0; i < 3; i++) await settle();
    assert.deepEqual(requests.at(-1).slice(0, 2), ['POST', 'http://h/hub?id=tok2']);
    hub.stop();
    await settle();
    assert.ok(requests.some(([m, u]) => m === 'DELETE' && u === 'http://h/hub?id=tok2'));
  });

  it('explains a failed negotiation by its status', async () => {
    respond = async () => new Response('Not Found', { status: 404 });
    await assert.rejects(connection().start(), /^Error: 404 from http:\/\/h\/hub\/negotiate\?negotiateVersion=1: no hub at this path/);
    respond = async () => new Response('', { status: 403 });
    await assert.rejects(connection().start(), /403 from .*refused this page's origin/);
    respond = async () => Response.json({ error: 'Negotiate failed: bad version' });
    await assert.rejects(connection().start(), /negotiation with .* failed: Negotiate failed: bad version/);
  });

  it('fails the start when the server refuses the handshake', async () => {
    const hub = connection({ transports: ['WebSockets'] });
    const started = hub.start();
    await settle();
    const ws = FakeWebSocket.sockets[0];
    ws.open();
    await settle();
    ws.receive(`{"error":"Requested protocol 'json' is not available."}${RS}`);
    await assert.rejects(started, /server refused the handshake: Requested protocol 'json'/);
    assert.equal(ws.closedWith, 1000);
  });
});
