// SignalR compatibility: the answers Microsoft's own client functional tests expect, word for word, from the
// chat example's `/testhub` (examples/chat/src/testhub.rs), with the official client over every transport
// and hub protocol.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';

import { startServer } from '../support/server.mjs';
import { TRANSPORTS as transports } from '../support/signalr.mjs';

const T = signalR.HttpTransportType;
const protocols = [
  ['json', () => new signalR.JsonHubProtocol()],
  ['messagepack', () => new MessagePackHubProtocol()],
];

let server;
before(async () => { server = await startServer('chat', { env: { TETHER_MAX_MESSAGE_BYTES: '4096' } }); });
after(async () => { await server?.stop(); });

function started(transport, protocol, path = '/testhub') {
  const c = build(transport, protocol, path);
  return c.start().then(() => c);
}

function build(transport, protocol, path = '/testhub') {
  return new signalR.HubConnectionBuilder()
    .withUrl(`${server.url}${path}`, { transport })
    .withHubProtocol(protocol())
    .configureLogging(signalR.LogLevel.None)
    .build();
}

/** Collects a server-to-client stream: resolves with its items, rejects with its error. */
function collect(connection, method, ...args) {
  return new Promise((resolve, reject) => {
    const items = [];
    connection.stream(method, ...args).subscribe({
      next: (item) => items.push(item),
      complete: () => resolve(items),
      error: reject,
    });
  });
}

for (const [protocolName, protocol] of protocols) {
  for (const [transportName, transport] of transports) {
    if (protocolName === 'messagepack' && transport === T.ServerSentEvents) continue;
    describe(`${protocolName} over ${transportName}`, () => {
      test('a method error reads as ASP.NET Core writes it', async () => {
        const c = await started(transport, protocol);
        try {
          await assert.rejects(c.invoke('ThrowException', 'An error occurred.'), {
            message: "An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: An error occurred.",
          });
        } finally { await c.stop(); }
      });

      test('a stream error reads as ASP.NET Core writes it', async () => {
        const c = await started(transport, protocol);
        try {
          await assert.rejects(collect(c, 'StreamThrowException', 'An error occurred.'), {
            message: "An unexpected error occurred invoking 'StreamThrowException' on the server. InvalidOperationException: An error occurred.",
          });
        } finally { await c.stop(); }
      });

      test('invoke on a streaming method and stream on a plain one are refused in ASP.NET Core words', async () => {
        const c = await started(transport, protocol);
        try {
          await assert.rejects(c.invoke('EmptyStream'), {
            message: "The client attempted to invoke the streaming 'EmptyStream' method with a non-streaming invocation.",
          });
          await assert.rejects(collect(c, 'Echo', '42'), {
            message: "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation.",
          });
        } finally { await c.stop(); }
      });

      test('a client stream ended with an error fails the method with the ASP.NET Core prefix', async () => {
        const c = await started(transport, protocol);
        try {
          const subject = new signalR.Subject();
          const result = c.invoke('StreamingConcat', subject);
          subject.next('Hello ');
          subject.next('world');
          subject.error(new Error('Something bad'));
          await assert.rejects(result, {
            message: "An unexpected error occurred invoking 'StreamingConcat' on the server. Exception: Something bad",
          });
          const ok = new signalR.Subject();
          const concat = c.invoke('StreamingConcat', ok);
          for (const piece of ['Hello ', 'world', '!']) ok.next(piece);
          ok.complete();
          assert.equal(await concat, 'Hello world!');
        } finally { await c.stop(); }
      });

      test('echo, server calls, custom objects, streams and cancellation', async () => {
        const c = await started(transport, protocol);
        try {
          const text = '你好，世界！';
          assert.equal(await c.invoke('Echo', text), text);
          const message = new Promise((resolve) => c.on('message', resolve));
          await c.invoke('InvokeWithString', text);
          assert.equal(await message, text);
          const custom = new Promise((resolve) => c.on('CustomObject', resolve));
          await c.send('SendCustomObject', { Name: 'test', Value: 42 });
          assert.deepEqual({ ...(await custom) }, { Name: 'test', Value: 42 });
          assert.deepEqual(await collect(c, 'Stream'), ['a', 'b', 'c']);
          assert.deepEqual(await collect(c, 'EmptyStream'), []);
          const canceled = new Promise((resolve) => c.on('StreamCanceled', resolve));
          c.stream('InfiniteStream').subscribe({ next() {}, complete() {}, error() {} }).dispose();
          await canceled;
          assert.equal(await c.invoke('GetActiveTransportName'), transportName);
          assert.equal(await c.invoke('GetCallerConnectionId'), c.connectionId);
        } finally { await c.stop(); }
      });

      test('complex objects with binary data and dates go both ways in the protocol\'s own form', async () => {
        const c = await started(transport, protocol);
        try {
          const json = protocolName === 'json';
          const sent = {
            ByteArray: json ? 'aGVsbG8=' : new Uint8Array([0x68, 0x65, 0x6c, 0x6c, 0x6f]),
            DateTime: json ? '2002-04-01T10:20:15Z' : new Date(Date.UTC(2002, 3, 1, 10, 20, 15)),
            Guid: '00010203-0405-0607-0706-050403020100',
            IntArray: [0x01, 0x02, 0x03, 0xff],
            String: 'Hello, World!',
          };
          assert.deepEqual(await c.invoke('EchoComplexObject', sent), sent);
          assert.deepEqual(await c.invoke('SendComplexObject'), {
            ByteArray: json ? 'AQID' : new Uint8Array([1, 2, 3]),
            DateTime: json ? '2000-01-01T00:00:00Z' : new Date(Date.UTC(2000, 0, 1)),
            Guid: '00010203-0405-0607-0706-050403020100',
            IntArray: [1, 2, 3],
            String: 'hello world',
          });
        } finally { await c.stop(); }
      });

      test('cookies set at negotiate come back, expired ones do not; request headers reach hub code', async () => {
        const c = new signalR.HubConnectionBuilder()
          .withUrl(`${server.url}/testhub`, { transport, headers: { 'X-HEADER': 'VALUE' } })
          .withHubProtocol(protocol())
          .configureLogging(signalR.LogLevel.None)
          .build();
        await c.start();
        try {
          assert.equal(await c.invoke('GetCookie', 'testCookie'), 'testValue');
          assert.equal(await c.invoke('GetCookie', 'testCookie2'), 'testValue2');
          assert.equal(await c.invoke('GetCookie', 'expiredCookie'), null);
          assert.equal(await c.invoke('GetHeader', 'X-HEADER'), 'VALUE');
        } finally { await c.stop(); }
      });

      test('a hub that cannot be created closes the connection with ASP.NET Core\'s text', async () => {
        const c = build(transport, protocol, '/uncreatable');
        const expected = "Server returned an error on close: Connection closed with an error. InvalidOperationException: Unable to resolve service for type 'System.Object' while attempting to activate 'FunctionalTests.UncreatableHub'.";
        // Either start fails or the connection closes with the error, as in Microsoft's test.
        const closed = new Promise((resolve) => c.onclose(resolve));
        const outcome = await c.start().then(() => closed, (e) => e);
        assert.equal(outcome?.message, expected);
      });

      test('hub API: query and path, client results through Clients', async () => {
        const c = await started(transport, protocol, '/testhub?color=blue&size=2');
        try {
          assert.equal(await c.invoke('GetQueryParam', 'color'), 'blue');
          assert.equal(await c.invoke('GetQueryParam', 'size'), '2');
          // The connection token travels as `id` on the HTTP transports; hub code never sees it.
          assert.equal(await c.invoke('GetQueryParam', 'id'), null);
          assert.equal(await c.invoke('GetRequestPath'), '/testhub');
          c.on('Double', (n) => n * 2);
          assert.equal(await c.invoke('AskThroughClients', 'Double', 21), 42);
          await assert.rejects(c.invoke('AskThroughClients', 'NoHandler', 1), /the client answered with an error/);
        } finally { await c.stop(); }
      });
    });
  }
}

describe('hub paths match in any letter case, as ASP.NET Core routes them', () => {
  for (const [protocolName, protocol] of protocols) for (const [transportName, transport] of transports) {
    if (protocolName === 'messagepack' && transport === T.ServerSentEvents) continue;
    test(`negotiate and the transport URL reach /testhub as /TestHub, ${protocolName} over ${transportName}`, async () => {
      const c = await started(transport, protocol, '/TestHub?Color=red');
      try {
        assert.equal(await c.invoke('Echo', 'hi'), 'hi');
        // Hub code sees the path as the client sent it.
        assert.equal(await c.invoke('GetRequestPath'), '/TestHub');
        assert.equal(await c.invoke('GetQueryParam', 'Color'), 'red');
      } finally { await c.stop(); }
    });
  }

  test('other paths stay exact: a page route in another case is still 404', async () => {
    assert.equal((await fetch(`${server.url}/TESTHUB/negotiate?negotiateVersion=1`, { method: 'POST' })).status, 200);
    assert.equal((await fetch(`${server.url}/testhub/Negotiate/extra`, { method: 'POST' })).status, 404);
  });
});

describe('the functional test server\'s other endpoints', () => {
  test('without WebSockets, JSON negotiates Server-Sent Events and MessagePack long polling', async () => {
    for (const [protocol, expected] of [[() => new signalR.JsonHubProtocol(), 'ServerSentEvents'], [() => new MessagePackHubProtocol(), 'LongPolling']]) {
      const c = new signalR.HubConnectionBuilder()
        .withUrl(`${server.url}/testhub-nowebsockets`)
        .withHubProtocol(protocol())
        .configureLogging(signalR.LogLevel.None)
        .build();
      await c.start();
      try {
        assert.equal(await c.invoke('GetActiveTransportName'), expected);
      } finally { await c.stop(); }
    }
  });

  test('a token from /generateJwtToken opens /authorizedhub', async () => {
    const token = await fetch(`${server.url}/generateJwtToken`).then((r) => r.text());
    const c = new signalR.HubConnectionBuilder()
      .withUrl(`${server.url}/authorizedhub`, { accessTokenFactory: () => token })
      .configureLogging(signalR.LogLevel.None)
      .build();
    await c.start();
    try {
      assert.equal(await c.invoke('Echo', '你好，世界！'), '你好，世界！');
    } finally { await c.stop(); }
  });
});

describe('authorization hook', () => {
  for (const [protocolName, protocol] of protocols) for (const [transportName, transport] of transports) {
    if (protocolName === 'messagepack' && transport === T.ServerSentEvents) continue;
    test(`a bearer token from accessTokenFactory is checked at negotiate and on the transport, ${protocolName} over ${transportName}`, async () => {
      const connect = (token) => new signalR.HubConnectionBuilder()
        .withUrl(`${server.url}/authorizedhub`, { transport, ...(token ? { accessTokenFactory: () => token } : {}) })
        .withHubProtocol(protocol())
        .configureLogging(signalR.LogLevel.None)
        .build();
      const ok = connect('let-me-in');
      await ok.start();
      try {
        assert.equal(await ok.invoke('Echo', 'hi'), 'hi');
      } finally { await ok.stop(); }
      await assert.rejects(connect(null).start(), /Status code '401'/);
      await assert.rejects(connect('wrong').start(), /Status code '403'/);
    });
  }

  test('the transport request is refused too, with 401 and WWW-Authenticate, when it comes without the token', async () => {
    const negotiated = await fetch(`${server.url}/authorizedhub/negotiate?negotiateVersion=1`, {
      method: 'POST', headers: { Authorization: 'Bearer let-me-in' },
    }).then((r) => r.json());
    const poll = await fetch(`${server.url}/authorizedhub?id=${negotiated.connectionToken}`);
    assert.equal(poll.status, 401);
    assert.equal(poll.headers.get('www-authenticate'), 'Bearer');
    assert.equal(await poll.text(), 'A bearer token is required\n');
    const withQuery = await fetch(`${server.url}/authorizedhub?id=${negotiated.connectionToken}&access_token=wrong`);
    assert.equal(withQuery.status, 403);
  });
});

describe('long polling', () => {
  for (const [protocolName, protocol] of protocols) {
    test(`the official ${protocolName} client hears why its handshake was refused`, async () => {
      // The client's own protocol object under a name the server does not speak.
      const unsupported = Object.assign(protocol(), { name: 'protobuf' });
      const c = build(T.LongPolling, () => unsupported);
      await assert.rejects(c.start(), {
        message: "Server returned handshake error: The protocol 'protobuf' is not supported by this server (supported: json, messagepack).",
      });
    });
  }

  test('a handshake refusal reaches a poll that arrives after the server gave up on the connection', async () => {
    const base = `${server.url}/testhub`;
    const { connectionToken: id } = await fetch(`${base}/negotiate?negotiateVersion=1`, { method: 'POST' }).then((r) => r.json());
    const first = await fetch(`${base}?id=${id}`);
    assert.equal(first.status, 200);
    const logged = server.output().length;
    await fetch(`${base}?id=${id}`, { method: 'POST', body: '{"protocol":"protobuf","version":1}\u001e' });
    // No poll is waiting while the server refuses and ends the connection; the next one comes after its log line.
    while (!server.output().slice(logged).includes('handshake refused')) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const poll = await fetch(`${base}?id=${id}`);
    assert.equal(poll.status, 200);
    assert.deepEqual(JSON.parse((await poll.text()).replace('\u001e', '')), {
      error: "The protocol 'protobuf' is not supported by this server (supported: json, messagepack).",
    });
    const after = await fetch(`${base}?id=${id}`);
    assert.equal(after.status, 404);
  });
});

describe('MessagePack specifics', () => {
  const msgpack = () => new MessagePackHubProtocol();

  test('negotiation skips Server-Sent Events for MessagePack and keeps them for JSON', async () => {
    const both = T.ServerSentEvents | T.LongPolling;
    const binary = await started(both, msgpack);
    try {
      assert.equal(await binary.invoke('GetActiveTransportName'), 'LongPolling');
    } finally { await binary.stop(); }
    const text = await started(both, () => new signalR.JsonHubProtocol());
    try {
      assert.equal(await text.invoke('GetActiveTransportName'), 'ServerSentEvents');
    } finally { await text.stop(); }
  });

  for (const [transportName, transport] of [['WebSockets', T.WebSockets], ['LongPolling', T.LongPolling]]) {
    test(`a message over the size limit ends the connection with the JSON protocol's text over ${transportName}`, async () => {
      const c = await started(transport, msgpack);
      const closed = new Promise((resolve) => c.onclose(resolve));
      c.invoke('Echo', 'x'.repeat(5000)).catch(() => {});
      const error = await closed;
      assert.match(error.message, /^Server returned an error on close: Connection closed with an error: the client sent a message of \d+ bytes, more than the hub's maximum receive message size of 4096 bytes/);
    });

    test(`binary data and dates arrive as .NET's JSON writes them over ${transportName}`, async () => {
      const c = await started(transport, msgpack);
      try {
        assert.equal(await c.invoke('Echo', 'plain'), 'plain');
        assert.equal(await c.invoke('Echo', new Uint8Array([1, 2, 3])), 'AQID');
        assert.equal(await c.invoke('Echo', new Date(Date.UTC(2002, 3, 1, 10, 20, 15))), '2002-04-01T10:20:15Z');
        const custom = new Promise((resolve) => c.on('CustomObject', resolve));
        await c.invoke('SendCustomObject', { Name: 'test', Value: 42 });
        assert.deepEqual({ ...(await custom) }, { Name: 'test', Value: 42 });
      } finally { await c.stop(); }
    });
  }

  for (const [transportName, transport] of [['WebSockets', T.WebSockets], ['LongPolling', T.LongPolling]]) {
    test(`binary data, dates, nested values and large integers come back with their own types over ${transportName}`, async () => {
      const c = await started(transport, msgpack);
      try {
        const bytes = new Uint8Array([0, 1, 2, 0xfe, 0xff]);
        const echoedBytes = await c.invoke('EchoValue', bytes);
        assert.ok(echoedBytes instanceof Uint8Array, `expected a Uint8Array, got ${echoedBytes?.constructor?.name}`);
        assert.deepEqual([...echoedBytes], [...bytes]);
        const date = new Date(Date.UTC(2002, 3, 1, 10, 20, 15, 500));
        const echoedDate = await c.invoke('EchoValue', date);
        assert.ok(echoedDate instanceof Date, `expected a Date, got ${echoedDate?.constructor?.name}`);
        assert.equal(echoedDate.getTime(), date.getTime());
        const before1970 = new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 1));
        assert.equal((await c.invoke('EchoValue', before1970)).getTime(), before1970.getTime());
        const nested = {
          name: 'n', list: [1, -1, 2.5, null, true, 'x', new Uint8Array([7])],
          inner: { when: date, deeper: { empty: [], none: {} } },
          big: Number.MAX_SAFE_INTEGER, small: Number.MIN_SAFE_INTEGER, u32: 2 ** 32 + 1,
        };
        const echoed = await c.invoke('EchoValue', nested);
        assert.deepEqual(echoed, nested);
        assert.ok(echoed.list[6] instanceof Uint8Array);
        assert.ok(echoed.inner.when instanceof Date);
        // Stream items keep their types too.
        const items = await collect(c, 'StreamValues', [bytes, date, 42]);
        assert.ok(items[0] instanceof Uint8Array && items[1] instanceof Date);
        assert.deepEqual(items, [bytes, date, 42]);
        // A method taking text still gets what .NET's JSON writes for binary data and dates.
        assert.equal(await c.invoke('Echo', new Uint8Array([1, 2, 3])), 'AQID');
      } finally { await c.stop(); }
    });
  }

  test('the JSON client round-trips the same values as JSON holds them', async () => {
    const c = await started(T.WebSockets, () => new signalR.JsonHubProtocol());
    try {
      const nested = { name: 'n', list: [1, -1, 2.5, null, true, 'x'], inner: { deeper: { empty: [], none: {} } }, big: Number.MAX_SAFE_INTEGER };
      assert.deepEqual(await c.invoke('EchoValue', nested), nested);
      const date = new Date(Date.UTC(2002, 3, 1, 10, 20, 15));
      assert.equal(await c.invoke('EchoValue', date), '2002-04-01T10:20:15.000Z');
    } finally { await c.stop(); }
  });

  test('a malformed MessagePack message closes the connection with a protocol error', async () => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/testhub`);
    await once(ws, 'open');
    const frames = [];
    // ws 7 hands text frames over as strings and binary frames as Buffers.
    ws.on('message', (data) => frames.push({ data: Buffer.from(data), isBinary: typeof data !== 'string' }));
    ws.send('{"protocol":"messagepack","version":1}\u001e');
    // A map where the message array belongs, with its length prefix.
    ws.send(Buffer.from([0x04, 0x81, 0xa1, 0x61, 0x01]));
    await once(ws, 'close');
    assert.equal(frames[0].data.toString(), '{}\u001e');
    assert.equal(frames[0].isBinary, false);
    assert.equal(frames[1].isBinary, true);
    const [close] = new MessagePackHubProtocol().parseMessages(new Uint8Array(frames[1].data).buffer, signalR.NullLogger.instance);
    assert.equal(close.type, signalR.MessageType.Close);
    assert.equal(close.error, 'Connection closed with an error: Message must be a MessagePack array.');
  });
});
