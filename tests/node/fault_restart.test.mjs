// Fault drill: the counter server restarts under 1,000 connected circuits. Each raw hub client (ws) behaves as
// the boot script does: when its connection drops it keeps trying to reconnect and asks for its circuit with
// ConnectCircuit. Every client must end resumed or rejected (a restarted server has no circuits, so rejected)
// within the drill's deadline: none may hang, and the restarted server then serves new circuits.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { freePort, startServer } from '../support/server.mjs';

const RS = '\u001e';
const CIRCUITS = 1000;
const RAMP = 100; // the accept backlog is 128
const RETRY_MS = 250;

/** One hub connection: queues records, resolves `next(pred)` waiters, exposes `closed`. */
async function hubSocket(base) {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/_tether`, { perMessageDeflate: false });
  const records = [];
  let waiter = null;
  const closed = new Promise((resolve) => ws.on('close', resolve));
  ws.on('error', () => {});
  ws.on('message', (data) => {
    for (const text of String(data).split(RS).filter(Boolean)) records.push(JSON.parse(text));
    waiter?.();
  });
  ws.on('close', () => waiter?.());
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const socket = {
    ws,
    closed,
    send(message) { ws.send(JSON.stringify(message) + RS); },
    next(pred) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const i = records.findIndex(pred);
          if (i >= 0) { waiter = null; resolve(records.splice(i, 1)[0]); return; }
          if (ws.readyState >= WebSocket.CLOSING) { waiter = null; reject(new Error('closed while waiting')); }
        };
        waiter = check;
        check();
      });
    },
  };
  socket.send({ protocol: 'json', version: 1 });
  await socket.next(() => true);
  return socket;
}

/** The Tether protocol version, read from the boot script's own definition (client-js/src/protocol.ts). */
const PROTOCOL_VERSION = Number(
  readFileSync(new URL('../../client-js/src/protocol.ts', import.meta.url), 'utf8').match(/PROTOCOL_VERSION = (\d+)/)[1],
);

const isBatch = (m) => m.type === 1 && m.target === 'T.Batch';

/** Starts a counter circuit the way the boot script does; acknowledges its first batch. */
async function startCircuit(base) {
  const page = await (await fetch(`${base}/`)).text();
  const descriptors = [...page.matchAll(/<!--t:r:([^>]*?)-->/g)].map((m) => m[1]);
  const socket = await hubSocket(base);
  socket.send({ type: 1, invocationId: 's', target: 'StartCircuit', arguments: [PROTOCOL_VERSION, `${base}/`, `${base}/`, descriptors] });
  const done = await socket.next((m) => m.type === 3 && m.invocationId === 's');
  assert.equal(typeof done.result, 'string', `StartCircuit failed: ${JSON.stringify(done)}`);
  const batch = await socket.next(isBatch);
  socket.send({ type: 1, target: 'OnRenderCompleted', arguments: [batch.arguments[0], null] });
  return { socket, secret: done.result };
}

/**
 * After the connection drops: retry every RETRY_MS until `deadline` (connection refused while the server is
 * down), then ask for the circuit. Resolves 'resumed', 'rejected', or 'gave up: …' at the deadline.
 */
async function reconnect(base, secret, deadline) {
  let lastError = 'no attempt';
  while (Date.now() < deadline) {
    try {
      const socket = await hubSocket(base);
      socket.send({ type: 1, invocationId: 'c', target: 'ConnectCircuit', arguments: [secret] });
      // A server that accepts the connection but never answers is the hang this drill is about.
      const answer = socket.next((m) => m.type === 3 && m.invocationId === 'c');
      let timer;
      const silence = new Promise((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), null); });
      const done = await Promise.race([answer, silence]);
      clearTimeout(timer);
      socket.ws.terminate();
      if (done === null) return 'hung: no answer to ConnectCircuit';
      return done.result === true ? 'resumed' : 'rejected';
    } catch (e) {
      lastError = e.message;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
  return `gave up: ${lastError}`;
}

describe('fault drill: server restart under 1,000 circuits', { timeout: 90000 }, () => {
  let server;
  let port;
  before(async () => {
    port = await freePort();
    server = await startServer('counter', { addr: `127.0.0.1:${port}`, env: { TETHER_MAX_RETAINED: String(CIRCUITS) } });
  });
  after(async () => { await server?.stop(); });

  test('every client is resumed or rejected, none hangs, and the new server serves new circuits', async () => {
    const base = server.url;
    const circuits = [];
    while (circuits.length < CIRCUITS) {
      const batch = Math.min(RAMP, CIRCUITS - circuits.length);
      circuits.push(...await Promise.all(Array.from({ length: batch }, () => startCircuit(base))));
    }

    // Every client notices the drop and starts its reconnect loop; the server comes back on the same port.
    const deadline = Date.now() + 45000;
    const outcomes = circuits.map(({ socket, secret }) => socket.closed.then(() => reconnect(base, secret, deadline)));
    await server.stop();
    server = await startServer('counter', { addr: `127.0.0.1:${port}` });
    const results = await Promise.all(outcomes);

    const tally = {};
    for (const r of results) tally[r] = (tally[r] ?? 0) + 1;
    // The restarted server has none of the old circuits: every client must learn that, none may hang.
    assert.deepEqual(tally, { rejected: CIRCUITS });

    const fresh = await startCircuit(server.url);
    fresh.socket.ws.terminate();
  });
});
