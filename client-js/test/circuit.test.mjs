// The circuit and the built-in reconnection loop in jsdom against a scripted circuit hub (fake fetch and
// WebSocket speaking the real wire format of docs/protocol.md): start, batches and acks, events, the user
// modal through a drop, failed retries, `reconnect()`, rejection, T.Error and the disconnect beacon.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { dom, installGlobals, load } from './support.mjs';

const { Circuit, ORPHAN_MS } = await load('circuit');
const { ACK_DELAY_MS, PROTOCOL_VERSION } = await load('protocol');
const { normalizeOptions } = await load('options');
const { Logger } = await load('log');
const { Interop } = await load('interop');
const RS = '\x1e';

const MODAL = `<div id="components-reconnect-modal">attempt <span id="components-reconnect-current-attempt"></span>
  of <span id="components-reconnect-max-retries"></span>, next in <span id="components-seconds-to-next-attempt"></span></div>`;
const PAGE = `${MODAL}<!--t:r:root-descriptor--><button>0</button><!--/t-->`;

/** A scripted circuit hub: answers the handshake, StartCircuit and ConnectCircuit, records everything. */
class ScriptedServer {
  constructor() {
    this.up = true;
    this.knowsCircuit = true;
    /** Whether ResumeCircuit finds the circuit in the store (it then rebuilds it: batch 1 again). */
    this.storeHasCircuit = false;
    this.received = [];
    /** Every frame the client sent, as written (several messages may share one). */
    this.frames = [];
    this.sockets = [];
    this.beacons = [];
  }
  reply(ws, message) {
    ws.onmessage?.({ data: JSON.stringify(message) + RS });
  }
  handle(ws, text) {
    this.frames.push(text);
    for (const part of text.split(RS).filter(Boolean)) {
      const message = JSON.parse(part);
      this.received.push(message);
      if (message.protocol) this.reply(ws, {});
      else if (message.target === 'StartCircuit') {
        this.reply(ws, { type: 3, invocationId: message.invocationId, result: 'the-secret' });
        this.reply(ws, { type: 1, target: 'T.Batch', arguments: [1, [[11, 0, '<button t-click="1">0</button>', 1]]] });
      } else if (message.target === 'Chunked') {
        this.chunked = { invocationId: message.invocationId, streamId: message.streamIds[0], target: message.arguments[0], items: [] };
      } else if (message.type === 2 && message.invocationId === this.chunked?.streamId) {
        this.chunked.items.push(message.item);
      } else if (message.type === 3 && message.invocationId === this.chunked?.streamId && this.chunked.target === 'StartCircuit') {
        // The reassembled call is a StartCircuit: answer the Chunked invocation as the server does.
        this.chunkedStart = JSON.parse(this.chunked.items.join(''));
        this.reply(ws, { type: 3, invocationId: this.chunked.invocationId, result: 'the-secret' });
        this.reply(ws, { type: 1, target: 'T.Batch', arguments: [1, [[11, 0, '<button t-click="1">0</button>', 1]]] });
      } else if (message.target === 'ConnectCircuit') {
        this.reply(ws, { type: 3, invocationId: message.invocationId, result: this.knowsCircuit && message.arguments[0] === 'the-secret' });
      } else if (message.target === 'ResumeCircuit') {
        const resumed = this.storeHasCircuit && message.arguments[0] === 'the-secret';
        this.storeHasCircuit = false;
        // The rebuilt circuit's first batch goes out before the answer, as the server sends them.
        if (resumed) this.reply(ws, { type: 1, target: 'T.Batch', arguments: [1, [[11, 0, '<button t-click="1">3</button>', 1]]] });
        this.reply(ws, { type: 3, invocationId: message.invocationId, result: resumed });
      } else if (message.target === 'PauseCircuit') {
        this.reply(ws, { type: 1, target: 'T.Persisted', arguments: [false] });
        this.reply(ws, { type: 3, invocationId: message.invocationId, result: true });
      }
    }
  }
  invocations(target) {
    return this.received.filter((m) => m.type === 1 && m.target === target).map((m) => m.arguments);
  }
}

let server;
let window;
let states;

function install() {
  window = dom(PAGE);
  installGlobals(window);
  globalThis.addEventListener = window.addEventListener.bind(window);
  globalThis.removeEventListener = window.removeEventListener.bind(window);
  globalThis.navigator = { sendBeacon: (url, body) => server.beacons.push([url, String(body)]) };
  Object.defineProperty(globalThis, 'navigator', { value: globalThis.navigator, configurable: true, writable: true });
  states = [];
  window.document.addEventListener('components-reconnect-state-changed', (e) => states.push({ ...e.detail, classes: [...e.target.classList].join(' ') }));
  class ScriptedWebSocket {
    static OPEN = 1;
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      server.sockets.push(this);
      queueMicrotask(() => {
        if (server.up) {
          this.readyState = 1;
          this.onopen?.({});
        } else this.onclose?.({ code: 1006 });
      });
    }
    send(text) {
      server.handle(this, text);
    }
    close() {
      this.readyState = 3;
    }
    drop() {
      this.readyState = 3;
      this.onclose?.({ code: 1006, reason: '' });
    }
  }
  globalThis.WebSocket = ScriptedWebSocket;
  globalThis.fetch = async (url) => {
    if (!server.up) throw new TypeError('fetch failed');
    assert.match(url, /^http:\/\/localhost:5000\/_tether\/negotiate\?negotiateVersion=1$/);
    return Response.json({ negotiateVersion: 1, connectionId: 'c', connectionToken: `t${server.sockets.length}`, availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text'] }] });
  };
}

let circuits = [];
function circuit(options = {}, interop = new Interop(window)) {
  const resolved = normalizeOptions(options, window.document.baseURI, (m) => assert.fail(m));
  const c = new Circuit(resolved, new Logger(6), window.document, interop);
  circuits.push(c);
  return c;
}

/** Lets queued microtasks, promise chains and immediates run. */
async function settle(rounds = 10) {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

beforeEach(() => {
  server = new ScriptedServer();
  install();
});

afterEach(() => {
  // Ending every circuit stops its timers, so no test leaves work behind.
  for (const c of circuits) c.disconnect();
  circuits = [];
  delete globalThis.WebSocket;
  delete globalThis.addEventListener;
  delete globalThis.removeEventListener;
});

describe('circuit', () => {
  it('starts with the root descriptors, applies and acknowledges the first batch, and sends events', async () => {
    const c = circuit();
    await c.start();
    await settle();
    assert.deepEqual(server.invocations('StartCircuit'), [[PROTOCOL_VERSION, 'http://localhost:5000/app/page', 'http://localhost:5000/app/page', ['root-descriptor']]]);
    assert.deepEqual(server.invocations('OnRenderCompleted'), [], 'the acknowledgement waits for the next message');
    const button = window.document.querySelector('button');
    assert.equal(button.getAttribute('t-click'), '1', 'prerendered content was replaced by the attached render');
    button.dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
    assert.deepEqual(server.invocations('DispatchEvent').map((a) => a.slice(0, 2)), [[1, 'click']]);
    assert.deepEqual(server.invocations('OnRenderCompleted'), [[1, null]]);
    const last = server.frames.at(-1).split(RS).filter(Boolean).map((m) => JSON.parse(m).target);
    assert.deepEqual(last, ['OnRenderCompleted', 'DispatchEvent'], 'the ack rides ahead of the event, in its frame');
  });

  it('defers an acknowledgement ACK_DELAY_MS at most, and sends it at once for ackNow or an apply error', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const c = circuit();
    const started = c.start();
    await settle();
    await started;
    const ws = server.sockets[0];
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [2, []] });
    assert.deepEqual(server.invocations('OnRenderCompleted'), []);
    t.mock.timers.tick(ACK_DELAY_MS - 1);
    assert.deepEqual(server.invocations('OnRenderCompleted'), []);
    t.mock.timers.tick(1);
    assert.deepEqual(server.invocations('OnRenderCompleted'), [[2, null]], 'only the newest: it covers batch 1');
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [3, [], true] });
    assert.deepEqual(server.invocations('OnRenderCompleted').at(-1), [3, null], 'ackNow: at once');
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [4, []] });
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [5, [[8, 99, 'x']]] });
    assert.deepEqual(server.invocations('OnRenderCompleted').slice(-1), [[5, 'node 99 is not on the page']]);
    t.mock.timers.tick(ACK_DELAY_MS);
    assert.equal(server.invocations('OnRenderCompleted').length, 3, 'the error ack covered the owed one');
  });

  it('re-acknowledges a duplicate batch and acknowledges on the connection it came in on', async () => {
    const c = circuit();
    await c.start();
    const ws = server.sockets[0];
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [1, [], true] });
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [3, [], true] });
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [2, [[8, 99, 'x']]] });
    assert.deepEqual(server.invocations('OnRenderCompleted'), [[1, null], [2, 'node 99 is not on the page']]);
  });

  it('drives the user modal through a drop and a resumed circuit', async () => {
    const c = circuit();
    await c.start();
    server.sockets[0].drop();
    await settle();
    assert.deepEqual(server.invocations('ConnectCircuit'), [['the-secret']]);
    assert.equal(c.state, 'connected');
    assert.deepEqual(states.map((s) => [s.state, s.currentAttempt, s.secondsToNextAttempt]), [['show', 1, 0], ['hide', 0, 0]]);
    assert.equal(states[0].classes, 'components-reconnect-show');
    assert.equal(states[1].classes, 'components-reconnect-hide');
    assert.equal(window.document.getElementById('components-reconnect-max-retries').textContent, '30');
    // Acks go out on the new connection.
    server.reply(server.sockets[1], { type: 1, target: 'T.Batch', arguments: [2, [], true] });
    assert.deepEqual(server.invocations('OnRenderCompleted').at(-1), [2, null]);
    assert.equal(server.frames.filter((f) => f.includes('OnRenderCompleted')).length, 1, 'the ack owed on the lost connection was dropped');
  });

  it('retries with the exact interval sequence, fails, then reconnect() succeeds once the server is back', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const c = circuit({ circuit: { reconnectionOptions: { retryIntervalMilliseconds: Array.prototype.at.bind([0, 2000]) } } });
    await c.start();
    server.up = false;
    server.sockets[0].drop();
    await settle();
    t.mock.timers.tick(1000);
    await settle();
    t.mock.timers.tick(1000);
    await settle();
    assert.deepEqual(states.map((s) => [s.state, s.currentAttempt, s.secondsToNextAttempt]), [
      ['show', 1, 0],
      ['retrying', 2, 2],
      ['retrying', 2, 1],
      ['retrying', 2, 0],
      ['failed', 2, 0],
    ]);
    assert.equal(states[1].classes, 'components-reconnect-show components-reconnect-retrying');
    assert.equal(states.at(-1).classes, 'components-reconnect-failed');
    await assert.rejects(c.reconnect(), /negotiate|status 0/);
    server.up = true;
    assert.equal(await c.reconnect(), true);
    assert.equal(states.at(-1).state, 'hide');
    assert.equal(await c.reconnect(), true, 'already connected');
  });

  it('shows rejected when the server no longer has the circuit', async () => {
    const closed = [];
    const c = circuit({ circuitHandlers: [{ onCircuitOpened: () => closed.push('opened'), onCircuitClosed: () => closed.push('closed') }] });
    await c.start();
    server.knowsCircuit = false;
    server.sockets[0].drop();
    await settle();
    assert.deepEqual(server.invocations('ResumeCircuit'), [['the-secret']], 'asked the store first');
    assert.equal(states.at(-1).state, 'rejected');
    assert.equal(states.at(-1).classes, 'components-reconnect-rejected');
    assert.equal(c.state, 'ended');
    assert.equal(await c.reconnect(), false);
    assert.deepEqual(closed, ['opened', 'closed']);
  });

  it('resumes from the store when the reconnect is refused, applying the rebuilt batch 1 in place', async () => {
    const c = circuit();
    await c.start();
    server.reply(server.sockets[0], { type: 1, target: 'T.Batch', arguments: [2, []] });
    server.knowsCircuit = false;
    server.storeHasCircuit = true;
    server.sockets[0].drop();
    await settle();
    assert.deepEqual(server.invocations('ResumeCircuit'), [['the-secret']]);
    assert.equal(c.state, 'connected');
    assert.equal(window.document.querySelector('button').textContent, '3');
    window.document.querySelector('button').dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
    assert.deepEqual(server.invocations('OnRenderCompleted').at(-1), [1, null], 'the rebuilt batch 1, acknowledged with the click');
    assert.equal(states.at(-1).state, 'hide');
  });

  it('pauses with T.Persisted(false), shows paused, and shows resume-failed when the store has nothing', async () => {
    const c = circuit();
    await c.start();
    assert.equal(await c.pause(), true);
    assert.equal(c.state, 'paused');
    assert.equal(states.at(-1).classes, 'components-reconnect-paused');
    server.sockets[0].drop();
    await settle();
    assert.equal(server.invocations('ConnectCircuit').length, 0, 'a paused circuit does not reconnect on its own');
    server.knowsCircuit = false;
    assert.equal(await c.resume(), false);
    assert.deepEqual(server.invocations('ResumeCircuit'), [['the-secret']]);
    assert.equal(states.at(-1).classes, 'components-reconnect-resume-failed');
  });

  it('calls a custom reconnection handler instead of the built-in loop', async () => {
    const calls = [];
    const c = circuit({ reconnectionHandler: { onConnectionDown: (options, error) => calls.push(['down', options.maxRetries, /1006/.test(error.message)]), onConnectionUp: () => calls.push(['up']) } });
    await c.start();
    server.sockets[0].drop();
    await settle();
    assert.deepEqual(calls, [['down', 30, true]]);
    assert.deepEqual(states, [], 'no built-in UI');
    assert.equal(await c.reconnect(), true);
    assert.deepEqual(calls.at(-1), ['up']);
  });

  it('ends on T.Error without reconnecting, and disconnect() sends the beacon', async () => {
    const c = circuit();
    await c.start();
    server.reply(server.sockets[0], { type: 1, target: 'T.Error', arguments: ['boom'] });
    assert.equal(c.state, 'ended');
    await settle();
    assert.equal(server.invocations('ConnectCircuit').length, 0);

    install();
    const d = circuit();
    await d.start();
    d.disconnect();
    assert.deepEqual(server.beacons, [['http://localhost:5000/_tether/disconnect', 'secret=the-secret']]);
    assert.equal(d.state, 'ended');
  });

  it('sends calls over the message limit as a Chunked stream and settles invokeServer answers', async () => {
    const c = circuit();
    await c.start();
    const big = 'x'.repeat(40000);
    const before = server.frames.length;
    const answer = c.invokeServer('Save', [big]);
    // The ack owed for batch 1 goes alone: a chunked call keeps one message per frame.
    const sent = server.frames.slice(before).map((f) => f.split(RS).filter(Boolean).map((m) => JSON.parse(m)));
    assert.deepEqual(sent[0].map((m) => [m.target, m.arguments]), [['OnRenderCompleted', [1, null]]]);
    assert.ok(sent.slice(1).every((messages) => messages.length === 1), 'one message per frame');
    const chunked = server.received.filter((m) => m.target === 'Chunked' || m.type === 2 || (m.type === 3 && !m.result));
    assert.deepEqual(chunked[0].arguments, ['InvokeServer']);
    const items = server.received.filter((m) => m.type === 2).map((m) => m.item);
    assert.ok(items.every((i) => i.length <= 16000));
    assert.deepEqual(JSON.parse(items.join('')), [1, 'Save', [big]]);
    server.reply(server.sockets[0], { type: 1, target: 'T.EndInvokeServer', arguments: [1, true, 'saved'] });
    assert.equal(await answer, 'saved');
  });

  it('starts a circuit whose descriptors are over the message limit as a Chunked call with an invocation id', async () => {
    const marker = [...window.document.body.childNodes].find((n) => n.nodeType === 8 && n.data.startsWith('t:r:'));
    const descriptor = 'd'.repeat(40000);
    marker.data = `t:r:${descriptor}`;
    const c = circuit();
    await c.start();
    assert.equal(c.state, 'connected');
    assert.deepEqual(server.invocations('StartCircuit'), [], 'no plain StartCircuit over the limit');
    const [chunked] = server.received.filter((m) => m.target === 'Chunked');
    assert.ok(chunked.invocationId, 'the Chunked start expects an answer');
    assert.equal(server.chunkedStart[0], PROTOCOL_VERSION, 'the protocol version');
    assert.deepEqual(server.chunkedStart[3], [descriptor]);
    assert.ok(server.chunked.items.every((i) => i.length <= 16000));
  });

  it('answers T.InvokeJS with EndInvokeJS', async () => {
    const interop = new Interop(window);
    interop.registerFunction('double', (n) => n * 2);
    const c = circuit({}, interop);
    await c.start();
    server.reply(server.sockets[0], { type: 1, target: 'T.InvokeJS', arguments: [4, 'double', [21]] });
    server.reply(server.sockets[0], { type: 1, target: 'T.InvokeJS', arguments: [5, 'no.such.fn', []] });
    await settle();
    const answers = server.invocations('EndInvokeJS').sort((a, b) => a[0] - b[0]);
    assert.deepEqual(answers[0], [4, true, 42]);
    assert.deepEqual(answers[1].slice(0, 2), [5, false]);
    assert.match(answers[1][2], /no function 'no.such.fn'/);
  });

  it('navigateTo pushes or replaces the history entry and reports LocationChanged; so do popstate and T.Navigate', async () => {
    const c = circuit();
    await c.start();
    const before = window.history.length;
    c.navigateTo('/app/other?q=1', false);
    assert.equal(window.location.href, 'http://localhost:5000/app/other?q=1');
    assert.equal(window.history.length, before + 1);
    c.navigateTo('third', true);
    assert.equal(window.location.href, 'http://localhost:5000/app/third');
    assert.equal(window.history.length, before + 1, 'replace adds no entry');
    window.dispatchEvent(new window.PopStateEvent('popstate'));
    server.reply(server.sockets[0], { type: 1, target: 'T.Navigate', arguments: ['/app/from-server', false] });
    assert.equal(window.location.href, 'http://localhost:5000/app/from-server');
    assert.deepEqual(server.invocations('LocationChanged'), [
      ['http://localhost:5000/app/other?q=1', false],
      ['http://localhost:5000/app/third', false],
      ['http://localhost:5000/app/third', false],
      ['http://localhost:5000/app/from-server', false],
    ]);
    c.disconnect();
    window.dispatchEvent(new window.PopStateEvent('popstate'));
    assert.equal(server.invocations('LocationChanged').length, 4, 'an ended circuit reports nothing');
  });

  it('ends the circuit when every root region has been gone for ORPHAN_MS, not when one comes back', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const c = circuit();
    await c.start();
    const body = window.document.body;
    const region = [...body.childNodes].filter((n) => n.nodeType === 8 || n.nodeName === 'BUTTON');
    assert.equal(region.length, 3, 'start marker, button, end marker');
    const holder = window.document.createElement('div');
    holder.append(...region);
    await settle();
    t.mock.timers.tick(ORPHAN_MS - 1);
    body.append(...holder.childNodes);
    await settle();
    t.mock.timers.tick(ORPHAN_MS * 2);
    assert.equal(c.state, 'connected', 'the root came back in time');
    assert.deepEqual(server.beacons, []);
    holder.append(...region);
    await settle();
    t.mock.timers.tick(ORPHAN_MS - 1);
    assert.equal(c.state, 'connected');
    t.mock.timers.tick(1);
    assert.equal(c.state, 'ended');
    assert.deepEqual(server.beacons, [['http://localhost:5000/_tether/disconnect', 'secret=the-secret']]);
  });

  it('confirms input events and skips a field value rendered while a newer one is unconfirmed', async () => {
    const c = circuit();
    await c.start();
    const ws = server.sockets[0];
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [2, [[2, 2, '<input t-input="7" value="">', 3]]] });
    const field = window.document.querySelector('input');
    const type = (value) => {
      field.value = value;
      field.dispatchEvent(new window.Event('input', { bubbles: true }));
    };
    type('a1');
    type('a1b');
    const sent = server.received.filter((m) => m.target === 'DispatchEvent');
    assert.deepEqual(sent.map((m) => [m.arguments[2].value, typeof m.invocationId]), [['a1', 'string'], ['a1b', 'string']]);
    // The answer to 'a1' arrives while 'a1b' is still unconfirmed: it is stale and not applied.
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [3, [[9, 3, 'value', 'a']]] });
    assert.equal(field.value, 'a1b');
    server.reply(ws, { type: 3, invocationId: sent[0].invocationId, result: null });
    await settle();
    // The answer to 'a1b' (the newest) is applied, then its confirmation arrives.
    server.reply(ws, { type: 1, target: 'T.Batch', arguments: [4, [[9, 3, 'value', 'ab']]] });
    assert.equal(field.value, 'ab');
    server.reply(ws, { type: 3, invocationId: sent[1].invocationId, result: null });
    await settle();
    // Batch 2's ack rode with 'a1' (it covers batch 1); batch 4's waits for the next message.
    assert.deepEqual(server.invocations('OnRenderCompleted'), [[2, null]]);
  });
});
