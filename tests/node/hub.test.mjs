// The chat example driven by the official @microsoft/signalr client over each transport.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { startServer } from '../support/server.mjs';
import { TRANSPORTS as transports } from '../support/signalr.mjs';

let server;
before(async () => {
  server = await startServer('chat', { env: { TETHER_CLIENT_RESULT_MS: '1000' } });
});
after(async () => { await server?.stop(); });

function connect(transport, configure = (b) => b) {
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(`${server.url}/chathub`, { transport })
    .configureLogging(signalR.LogLevel.None);
  return configure(builder).build();
}

async function started(transport, configure) {
  const c = connect(transport, configure);
  await c.start();
  return c;
}

/** Resolves with the arguments of the next `name` invocation on `connection`. */
function next(connection, name) {
  return new Promise((resolve) => {
    const handler = (...args) => { connection.off(name, handler); resolve(args); };
    connection.on(name, handler);
  });
}

function closed(connection) {
  return new Promise((resolve) => connection.onclose(resolve));
}

for (const [name, transport] of transports) {
  describe(`hub over ${name}`, () => {
    test('echo returns strings, numbers, objects, arrays, null and non-ASCII text unchanged', async () => {
      const c = await started(transport);
      try {
        const values = ['hello', '', 42, -1.5, 1e300, true, false, null,
          { a: 1, nested: { list: [1, 'two', null] } }, [1, [2, [3]], {}],
          'héllo wörld ✓ 日本語 🚀', 'quotes " and \\ backslash\nnewline\u001e'];
        for (const v of values) {
          assert.deepEqual(await c.invoke('Echo', v), v);
        }
      } finally { await c.stop(); }
    });

    test('method names match case-insensitively', async () => {
      const c = await started(transport);
      try { assert.equal(await c.invoke('eChO', 'x'), 'x'); } finally { await c.stop(); }
    });

    test('SendMessage broadcasts ReceiveMessage to three clients', async () => {
      const clients = await Promise.all([0, 1, 2].map(() => started(transport)));
      try {
        const received = clients.map((c) => next(c, 'ReceiveMessage'));
        await clients[1].invoke('SendMessage', 'bob', 'hi all ✓');
        for (const args of await Promise.all(received)) assert.deepEqual(args, ['bob', 'hi all ✓']);
      } finally { await Promise.all(clients.map((c) => c.stop())); }
    });

    test('server-to-client invocation reaches the caller', async () => {
      const c = await started(transport);
      try {
        const notified = next(c, 'Notify');
        assert.equal(await c.invoke('NotifyMe', 'ping me'), null);
        assert.deepEqual(await notified, ['ping me']);
      } finally { await c.stop(); }
    });

    test('client results: the hub awaits a value computed by the client', async () => {
      const c = connect(transport);
      c.on('add', (x) => x + 1);
      c.on('explode', () => { throw new Error('client handler failed'); });
      await c.start();
      try {
        assert.equal(await c.invoke('AskClient', 'add', 41), 42);
        await assert.rejects(c.invoke('AskClient', 'explode', 0), /client handler failed/);
        await assert.rejects(c.invoke('AskClient', 'noSuchHandler', 0), /answered with an error/);
        // A handler that never answers runs into the hub's client-result timeout (TETHER_CLIENT_RESULT_MS).
        c.on('hang', () => new Promise(() => {}));
        await assert.rejects(c.invoke('AskClient', 'hang', 0), /did not answer within the timeout/);
        // The connection still works afterwards.
        assert.equal(await c.invoke('Echo', 1), 1);
      } finally { await c.stop(); }
    });

    test('server-to-client stream delivers every item then completes', async () => {
      const c = await started(transport);
      try {
        const items = [];
        await new Promise((resolve, reject) => c.stream('Counter', 5, 0)
          .subscribe({ next: (i) => items.push(i), complete: resolve, error: reject }));
        assert.deepEqual(items, [0, 1, 2, 3, 4]);
      } finally { await c.stop(); }
    });

    test('cancelling a stream stops it on the server', async () => {
      const c = await started(transport);
      try {
        const stopped = next(c, 'TickerStopped');
        let subscription;
        await new Promise((resolve, reject) => {
          let seen = 0;
          subscription = c.stream('Ticker', 5).subscribe({
            next: () => { if (++seen === 2) resolve(); },
            complete: () => reject(new Error('an endless stream completed')),
            error: reject,
          });
        });
        subscription.dispose();
        await stopped;
        assert.equal(await c.invoke('Echo', 'alive'), 'alive');
      } finally { await c.stop(); }
    });

    test('client-to-server stream is consumed by the hub method', async () => {
      const c = await started(transport);
      try {
        const subject = new signalR.Subject();
        const sum = c.invoke('Sum', subject);
        for (const n of [1, 2, 3.5, 10]) subject.next(n);
        subject.complete();
        assert.equal(await sum, 16.5);
      } finally { await c.stop(); }
    });

    test('200 stream items sent at once (more than the stream buffer of 10) are all summed', async () => {
      const c = await started(transport);
      try {
        const subject = new signalR.Subject();
        const sum = c.invoke('Sum', subject);
        for (let n = 1; n <= 200; n++) subject.next(n);
        subject.complete();
        assert.equal(await sum, 20100);
        assert.equal(await c.invoke('Echo', 'alive'), 'alive');
      } finally { await c.stop(); }
    });

    test('a consumer slower than the client gets every item (backpressure, no hang)', async () => {
      const c = await started(transport);
      try {
        const subject = new signalR.Subject();
        // The method reads nothing for 300 ms: the items pile up beyond the stream buffer of 10.
        const sum = c.invoke('SumAfter', 300, subject);
        for (let n = 1; n <= 200; n++) subject.next(n);
        subject.complete();
        assert.equal(await sum, 20100);
        assert.equal(await c.invoke('Echo', 'alive'), 'alive');
      } finally { await c.stop(); }
    });

    test('unknown method and bad arguments answer that invocation; the connection lives on', async () => {
      const c = await started(transport);
      try {
        await assert.rejects(c.invoke('NoSuchMethod', 1), /Unknown hub method 'NoSuchMethod'/);
        await assert.rejects(c.invoke('Echo', 1, 2), /Invalid arguments for 'Echo' \(2 given\): too many arguments/);
        await assert.rejects(c.invoke('SendMessage', 'only-one'), /Invalid arguments for 'SendMessage' \(1 given\)/);
        await assert.rejects(c.invoke('NotifyMe', 5), /Invalid arguments for 'NotifyMe'/);
        await assert.rejects(c.invoke('Fail'), /^Error: An unexpected error occurred invoking 'Fail' on the server\.$/);
        assert.equal(c.state, signalR.HubConnectionState.Connected);
        assert.equal(await c.invoke('Echo', 'still here'), 'still here');
      } finally { await c.stop(); }
    });

    test('fire-and-forget sends get no reply and run in order', async () => {
      const c = await started(transport);
      try {
        const got = next(c, 'ReceiveMessage');
        await c.send('SendMessage', 'carol', 'sent without id');
        assert.deepEqual(await got, ['carol', 'sent without id']);
      } finally { await c.stop(); }
    });

    test('an oversized message closes the connection with the limit named; earlier messages are processed', async () => {
      const c = await started(transport);
      const onClose = closed(c);
      const before = c.invoke('Echo', 'before');
      const big = c.invoke('Echo', 'x'.repeat(40 * 1024)).catch((e) => e);
      assert.equal(await before, 'before');
      const error = await onClose;
      assert.match(String(error), /maximum receive message size of 32768 bytes/);
      assert.match(String(error), /HubOptions::max_receive_message_size/);
      assert.ok((await big) instanceof Error);
    });
  });
}
