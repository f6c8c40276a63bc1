// Raw connection handlers (ASP.NET Core's MapConnectionHandler): the chat example's `/echo`
// (examples/chat/src/testhub.rs) driven by the official client's low-level HttpConnection, the way
// Microsoft's functional tests drive their echo endpoint, over every transport, text and binary.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import * as signalR from '@microsoft/signalr';
// The package no longer exports HttpConnection from its index; Microsoft's own tests import it the same way.
import { HttpConnection } from '@microsoft/signalr/dist/cjs/HttpConnection.js';

import { startServer } from '../support/server.mjs';
import { TRANSPORTS as transports } from '../support/signalr.mjs';

const T = signalR.HttpTransportType;

let server;
before(async () => { server = await startServer('chat'); });
after(async () => { await server?.stop(); });

/**
 * An HttpConnection to `path` whose received messages queue up; `next()` resolves with the next one and
 * `closed` with the close error (undefined for a clean close).
 */
async function open(path, transport, format, extra = {}) {
  const connection = new HttpConnection(`${server.url}${path}`, {
    transport, logger: signalR.NullLogger.instance, ...extra,
  });
  const queue = [];
  const waiting = [];
  connection.onreceive = (data) => {
    const w = waiting.shift();
    if (w) w(data); else queue.push(data);
  };
  const closed = new Promise((resolve) => { connection.onclose = resolve; });
  await connection.start(format);
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return { connection, next, closed };
}

for (const [name, transport] of transports) {
  describe(`echo over ${name}`, () => {
    test('text goes out and comes back unchanged, and stop() closes cleanly', async () => {
      const { connection, next, closed } = await open('/echo', transport, signalR.TransferFormat.Text);
      const messages = ['Hello World!', '你好，世界！', 'line one\nline two', '{"not":"a hub record"}\u001e'];
      let received = '';
      for (const m of messages) {
        await connection.send(m);
        // Long polling may deliver several echoes in one poll; the text is what counts.
        while (received.length < messages.slice(0, messages.indexOf(m) + 1).join('').length) received += await next();
      }
      assert.equal(received, messages.join(''));
      await connection.stop();
      assert.equal(await closed, undefined);
    });

    if (transport === T.ServerSentEvents) {
      test('a binary connection is not offered Server-Sent Events', async () => {
        await assert.rejects(open('/echo', transport, signalR.TransferFormat.Binary), /Unable to connect|does not support|'ServerSentEvents'/);
      });
      return;
    }

    test('binary goes out and comes back byte for byte, bytes that are not UTF-8 included', async () => {
      const { connection, next, closed } = await open('/echo', transport, signalR.TransferFormat.Binary);
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await connection.send(bytes.buffer);
      const chunks = [];
      let length = 0;
      while (length < bytes.length) {
        const data = await next();
        assert.ok(data instanceof ArrayBuffer, `expected an ArrayBuffer, got ${typeof data}`);
        chunks.push(new Uint8Array(data));
        length += data.byteLength;
      }
      assert.deepEqual(Buffer.concat(chunks), Buffer.from(bytes));
      await connection.stop();
      assert.equal(await closed, undefined);
    });
  });
}

describe('raw connection handler endpoint', () => {
  test('WebSockets without negotiate keep each message\'s frame type', async () => {
    const { connection, next } = await open('/echo', T.WebSockets, signalR.TransferFormat.Binary, { skipNegotiation: true });
    try {
      await connection.send('text frame');
      assert.equal(await next(), 'text frame');
      await connection.send(new Uint8Array([0xff, 0x00, 0x7f]).buffer);
      assert.deepEqual(new Uint8Array(await next()), new Uint8Array([0xff, 0x00, 0x7f]));
    } finally { await connection.stop(); }
  });

  test('negotiate answers as for a hub, and never offers stateful reconnect', async () => {
    const response = await fetch(`${server.url}/echo/negotiate?negotiateVersion=1&useStatefulReconnect=true`, { method: 'POST' });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.negotiateVersion, 1);
    assert.equal(typeof body.connectionToken, 'string');
    assert.equal(body.useStatefulReconnect, undefined);
    assert.deepEqual(body.availableTransports.map((t) => t.transport), ['WebSockets', 'ServerSentEvents', 'LongPolling']);
  });

  test('the path matches in any letter case, as for hubs', async () => {
    const { connection, next } = await open('/Echo', T.LongPolling, signalR.TransferFormat.Text);
    try {
      await connection.send('case');
      assert.equal(await next(), 'case');
    } finally { await connection.stop(); }
  });

  test('transport limits hold: an oversized POST is refused with 413, an unknown token with 404', async () => {
    const { connectionToken } = await fetch(`${server.url}/echo/negotiate?negotiateVersion=1`, { method: 'POST' }).then((r) => r.json());
    const first = await fetch(`${server.url}/echo?id=${connectionToken}`);
    assert.equal(first.status, 200);
    const big = await fetch(`${server.url}/echo?id=${connectionToken}`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(big.status, 413);
    assert.match(await big.text(), /max_receive_batch_size/);
    // The connection survives the refused body: a small one still comes back.
    const small = await fetch(`${server.url}/echo?id=${connectionToken}`, { method: 'POST', body: 'still here', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(small.status, 200);
    const poll = await fetch(`${server.url}/echo?id=${connectionToken}`);
    assert.equal(await poll.text(), 'still here');
    assert.equal((await fetch(`${server.url}/echo?id=${connectionToken}`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${server.url}/echo?id=nope`)).status, 404);
  });

  test('a WebSocket message over max_receive_batch_size closes the connection with 1009 and the limit', async () => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/echo`);
    await once(ws, 'open');
    ws.send('small');
    const [echoed] = await once(ws, 'message');
    assert.equal(echoed.toString(), 'small');
    ws.send(Buffer.alloc(2 * 1024 * 1024));
    const [code, reason] = await once(ws, 'close');
    assert.equal(code, 1009);
    assert.equal(reason.toString(), 'Message larger than 1048576 bytes');
  });
});
