// The hub's wire behaviour seen by a raw client (ws + fetch): keep-alive, timeouts, handshake and protocol
// errors, status codes of negotiate and the transports, origins and CORS.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import { startServer } from '../support/server.mjs';

const RS = '\u001e';

/** A raw WebSocket hub client that queues every received record. */
async function rawSocket(url, { headers = {} } = {}) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers });
  const records = [];
  const waiters = [];
  let closeInfo = null;
  const closedPromise = new Promise((resolve) => ws.on('close', (code, reason) => {
    closeInfo = { code, reason: String(reason) };
    resolve(closeInfo);
    for (const w of waiters.splice(0)) w.reject(new Error(`socket closed (${code}) while waiting`));
  }));
  ws.on('message', (data) => {
    for (const text of String(data).split(RS).filter(Boolean)) {
      records.push(JSON.parse(text));
    }
    for (const w of waiters.splice(0)) w.check();
  });
  await once(ws, 'open');
  return {
    ws,
    closed: closedPromise,
    send(...messages) { ws.send(messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m)) + RS).join('')); },
    /** Resolves with (and removes) the first queued record matching `pred`. */
    next(pred = () => true) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const i = records.findIndex(pred);
          if (i >= 0) { resolve(records.splice(i, 1)[0]); return true; }
          return false;
        };
        if (check()) return;
        if (closeInfo) { reject(new Error(`socket closed (${closeInfo.code})`)); return; }
        const waiter = { check: () => { if (!check()) waiters.push(waiter); }, reject };
        waiters.push(waiter);
      });
    },
  };
}

async function handshaken(url) {
  const s = await rawSocket(url);
  s.send({ protocol: 'json', version: 1 });
  assert.deepEqual(await s.next(), {});
  return s;
}

describe('keep-alive and timeouts', () => {
  let server;
  before(async () => {
    server = await startServer('chat', {
      env: { TETHER_KEEPALIVE_MS: '100', TETHER_CLIENT_TIMEOUT_MS: '400', TETHER_HANDSHAKE_TIMEOUT_MS: '300' },
    });
  });
  after(async () => { await server?.stop(); });

  test('the server pings an idle connection', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    assert.deepEqual(await s.next((m) => m.type === 6), { type: 6 });
    assert.deepEqual(await s.next((m) => m.type === 6), { type: 6 });
    s.ws.close();
  });

  test('a client that goes silent is closed after the client timeout', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    s.send({ type: 6 });
    const close = await s.next((m) => m.type === 7);
    assert.equal(close.error, 'Server timeout elapsed without receiving a message from the client.');
    const { code } = await s.closed;
    assert.equal(code, 1000);
  });

  test('a client that keeps pinging stays connected past the timeout', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    // Ping each time the server pings (every 100 ms) until well past the 400 ms timeout.
    for (let i = 0; i < 8; i++) {
      await s.next((m) => m.type === 6);
      s.send({ type: 6 });
    }
    s.send({ type: 1, invocationId: '1', target: 'Echo', arguments: ['alive'] });
    assert.deepEqual(await s.next((m) => m.type === 3), { type: 3, invocationId: '1', result: 'alive' });
    s.ws.close();
  });

  test('the server pings over Server-Sent Events too', async () => {
    const base = `${server.url}/chathub`;
    const { connectionToken: id } = await (await fetch(`${base}/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
    const controller = new AbortController();
    const stream = await fetch(`${base}?id=${id}`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    assert.equal(stream.status, 200);
    const post = await fetch(`${base}?id=${id}`, { method: 'POST', body: '{"protocol":"json","version":1}\u001e' });
    assert.equal(post.status, 200);
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of stream.body) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes('data: {"type":6}\u001e\r\n\r\n')) break;
    }
    assert.ok(text.startsWith(':\r\ndata: {}\u001e\r\n\r\n'), JSON.stringify(text));
    controller.abort();
  });

  test('no handshake within the handshake timeout closes the socket', async () => {
    const s = await rawSocket(`${server.url}/chathub`);
    const { code } = await s.closed;
    assert.equal(code, 1000);
  });
});

describe('hub protocol over a raw socket', () => {
  let server;
  before(async () => { server = await startServer('chat'); });
  after(async () => { await server?.stop(); });

  test('an unsupported protocol is refused in the handshake', async () => {
    const s = await rawSocket(`${server.url}/chathub`);
    s.send({ protocol: 'protobuf', version: 1 });
    assert.deepEqual(await s.next(), {
      error: "The protocol 'protobuf' is not supported by this server (supported: json, messagepack).",
    });
    await s.closed;
  });

  test('an unsupported version is refused in the handshake', async () => {
    const s = await rawSocket(`${server.url}/chathub`);
    s.send({ protocol: 'json', version: 9 });
    assert.deepEqual(await s.next(), {
      error: "The server does not support version 9 of the 'json' protocol (supported: 1, 2).",
    });
    await s.closed;
  });

  test('several messages in one frame, handshake included, are all handled in order', async () => {
    const s = await rawSocket(`${server.url}/chathub`);
    s.send({ protocol: 'json', version: 1 },
      { type: 1, invocationId: 'a', target: 'Echo', arguments: [1] },
      { type: 1, invocationId: 'b', target: 'Echo', arguments: ['two'] });
    assert.deepEqual(await s.next(), {});
    assert.deepEqual(await s.next(), { type: 3, invocationId: 'a', result: 1 });
    assert.deepEqual(await s.next(), { type: 3, invocationId: 'b', result: 'two' });
    s.ws.close();
  });

  test('a message split across frames is reassembled', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    const text = JSON.stringify({ type: 1, invocationId: 'split', target: 'Echo', arguments: ['joined'] });
    s.ws.send(text.slice(0, 10));
    s.ws.send(text.slice(10) + RS);
    assert.deepEqual(await s.next(), { type: 3, invocationId: 'split', result: 'joined' });
    s.ws.close();
  });

  test('a message above the socket frame limit still gets a Close naming the hub limit', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    s.send({ type: 1, invocationId: '1', target: 'Echo', arguments: ['x'.repeat(100 * 1024)] });
    const close = await s.next((m) => m.type === 7);
    assert.match(close.error, /the client sent a message of 1024\d\d bytes, more than the hub's maximum receive message size of 32768 bytes \(raise HubOptions::max_receive_message_size/);
    await s.closed;
  });

  test('an oversized message sent as many frames back to back still gets its Close before the socket closes', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    const part = 'x'.repeat(30 * 1024);
    s.ws.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["${part}`);
    for (let i = 0; i < 60; i++) s.ws.send(part);
    const close = await s.next((m) => m.type === 7);
    assert.match(close.error, /more than the hub's maximum receive message size of 32768 bytes/);
    const { code } = await s.closed;
    assert.equal(code, 1000);
  });

  test('an invalid message closes the connection with the reason', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    s.send({ type: 1, arguments: [] });
    assert.deepEqual(await s.next(), {
      type: 7, error: "Connection closed with an error: Missing required property 'target'.",
    });
    await s.closed;
  });

  test('a Completion with both result and error is a protocol error', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    s.send({ type: 3, invocationId: 'x', result: 1, error: 'e' });
    assert.deepEqual(await s.next(), {
      type: 7, error: "Connection closed with an error: The 'error' and 'result' properties are mutually exclusive.",
    });
    await s.closed;
  });

  test('a streaming method invoked without streaming is answered with an error', async () => {
    const s = await handshaken(`${server.url}/chathub`);
    s.send({ type: 1, invocationId: '1', target: 'Counter', arguments: [1, 0] },
      { type: 4, invocationId: '2', target: 'Echo', arguments: [1] });
    assert.match((await s.next((m) => m.invocationId === '1')).error, /^The client attempted to invoke the streaming 'Counter' method with a non-streaming invocation\.$/);
    assert.match((await s.next((m) => m.invocationId === '2')).error, /^The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation\.$/);
    s.ws.close();
  });
});

describe('negotiate and transport status codes', () => {
  let server;
  let base;
  before(async () => { server = await startServer('chat'); base = `${server.url}/chathub`; });
  after(async () => { await server?.stop(); });

  const negotiate = async (query = '?negotiateVersion=1') => {
    const r = await fetch(`${base}/negotiate${query}`, { method: 'POST' });
    assert.equal(r.status, 200);
    return r.json();
  };

  test('negotiate version 1 gives a separate token; version 0 uses the id as token', async () => {
    const v1 = await negotiate();
    assert.equal(v1.negotiateVersion, 1);
    assert.match(v1.connectionId, /^[A-Za-z0-9_-]{22}$/);
    assert.match(v1.connectionToken, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(v1.connectionId, v1.connectionToken);
    assert.deepEqual(v1.availableTransports.map((t) => t.transport), ['WebSockets', 'ServerSentEvents', 'LongPolling']);
    assert.equal('useStatefulReconnect' in v1, false);
    const v0 = await negotiate('');
    assert.equal(v0.negotiateVersion, 0);
    assert.equal('connectionToken' in v0, false);
    assert.equal((await negotiate('?negotiateVersion=7')).negotiateVersion, 1);
  });

  test('useStatefulReconnect is granted only when asked', async () => {
    assert.equal((await negotiate('?negotiateVersion=1&useStatefulReconnect=true')).useStatefulReconnect, true);
  });

  test('a non-integer negotiateVersion is an error in the body', async () => {
    const body = await negotiate('?negotiateVersion=abc');
    assert.equal(body.error, "The negotiateVersion query parameter must be an integer, got 'abc'.");
  });

  test('negotiate with GET is 405', async () => {
    const r = await fetch(`${base}/negotiate`);
    assert.equal(r.status, 405);
    assert.equal(await r.text(), 'negotiate accepts POST only, not GET\n');
  });

  test('an unsupported method on the endpoint is 405', async () => {
    const r = await fetch(`${base}?id=x`, { method: 'PUT' });
    assert.equal(r.status, 405);
  });

  test('a missing id is 400 for long polling, SSE and POST', async () => {
    for (const init of [{}, { headers: { accept: 'text/event-stream' } }, { method: 'POST', body: 'x' }]) {
      const r = await fetch(base, init);
      assert.equal(r.status, 400);
      assert.equal(await r.text(), 'Connection ID required\n');
    }
  });

  test('an unknown id is 404', async () => {
    const r = await fetch(`${base}?id=nope`);
    assert.equal(r.status, 404);
    assert.match(await r.text(), /No connection with this id/);
  });

  test('long polling: first poll 200 at once; a newer poll ends the older with 204; DELETE is 202', async () => {
    const { connectionToken: id } = await negotiate();
    const first = await fetch(`${base}?id=${id}`);
    assert.equal(first.status, 200);
    assert.equal(await first.text(), '');
    const older = fetch(`${base}?id=${id}`);
    // Wait until the server holds the older poll: the handshake answer proves the connection runs.
    await fetch(`${base}?id=${id}`, { method: 'POST', body: '{"protocol":"json","version":1}\u001e' });
    const handshake = await older;
    assert.equal(handshake.status, 200);
    assert.equal(await handshake.text(), '{}\u001e');
    const polls = [fetch(`${base}?id=${id}`), fetch(`${base}?id=${id}`)];
    // Whichever poll reached the server first is cancelled by the other with 204 ...
    const cancelled = await Promise.race(polls);
    assert.equal(cancelled.status, 204);
    // ... and the other one carries the next data.
    await fetch(`${base}?id=${id}`, {
      method: 'POST', body: '{"type":1,"invocationId":"1","target":"Echo","arguments":["lp"]}\u001e',
    });
    const [a, b] = await Promise.all(polls);
    const carrier = a === cancelled ? b : a;
    assert.equal(carrier.status, 200);
    assert.equal(await carrier.text(), '{"type":3,"invocationId":"1","result":"lp"}\u001e');
    const del = await fetch(`${base}?id=${id}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    const after = await fetch(`${base}?id=${id}`);
    assert.ok([204, 404].includes(after.status), `poll after DELETE: ${after.status}`);
  });

  test('switching transport mid-connection is 400; a second event stream is 409', async () => {
    const { connectionToken: id } = await negotiate();
    const controller = new AbortController();
    const sse = await fetch(`${base}?id=${id}`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    assert.equal(sse.status, 200);
    assert.equal(sse.headers.get('content-type'), 'text/event-stream');
    const second = await fetch(`${base}?id=${id}`, { headers: { accept: 'text/event-stream' } });
    assert.equal(second.status, 409);
    const poll = await fetch(`${base}?id=${id}`);
    assert.equal(poll.status, 400);
    assert.match(await poll.text(), /Cannot change transports mid-connection: this connection uses ServerSentEvents, not LongPolling/);
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}?id=${id}`);
    const [, response] = await once(ws, 'unexpected-response');
    assert.equal(response.statusCode, 400);
    controller.abort();
  });

  test('a WebSocket with an unknown id is 404', async () => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}?id=unknown`);
    const [, response] = await once(ws, 'unexpected-response');
    assert.equal(response.statusCode, 404);
  });
});

describe('origins and CORS', () => {
  let server;
  let base;
  const good = 'http://good.example';
  const evil = 'http://evil.example';
  before(async () => {
    server = await startServer('chat', { env: { TETHER_ALLOWED_ORIGINS: good } });
    base = `${server.url}/chathub`;
  });
  after(async () => { await server?.stop(); });

  test('preflight from an allowed origin answers the CORS headers', async () => {
    const r = await fetch(`${base}/negotiate?negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: { origin: good, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-signalr-user-agent' },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), good);
    assert.equal(r.headers.get('access-control-allow-headers'), 'x-signalr-user-agent');
    assert.match(r.headers.get('access-control-allow-methods'), /POST/);
    assert.equal(r.headers.get('access-control-allow-credentials'), null);
  });

  test('negotiate from an allowed origin carries Access-Control-Allow-Origin', async () => {
    const r = await fetch(`${base}/negotiate?negotiateVersion=1`, { method: 'POST', headers: { origin: good } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), good);
  });

  test('requests from another origin are 403 with the reason', async () => {
    for (const method of ['OPTIONS', 'POST']) {
      const r = await fetch(`${base}/negotiate?negotiateVersion=1`, { method, headers: { origin: evil } });
      assert.equal(r.status, 403);
      assert.match(await r.text(), /Origin 'http:\/\/evil.example' is not allowed to use this hub; add it to HubOptions::allowed_origins/);
    }
  });

  test('a WebSocket upgrade from another origin is 403 (cross-site WebSocket hijacking)', async () => {
    const ws = new WebSocket(base.replace(/^http/, 'ws'), { headers: { origin: evil } });
    const [, response] = await once(ws, 'unexpected-response');
    assert.equal(response.statusCode, 403);
    const okSocket = await rawSocket(base, { headers: { origin: good } });
    okSocket.ws.close();
  });

  test('same-origin and origin-less requests are always allowed', async () => {
    const r = await fetch(`${base}/negotiate?negotiateVersion=1`, { method: 'POST', headers: { origin: server.url } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  });
});
