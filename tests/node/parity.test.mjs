// SignalR compatibility: the answers Microsoft's own client functional tests expect, word for word, from the
// chat example's `/testhub` (examples/chat/src/testhub.rs), with the official client over every transport
// and hub protocol.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';

import { startServer } from '../support/server.mjs';

const T = signalR.HttpTransportType;
const transports = [
  ['WebSockets', T.WebSockets],
  ['ServerSentEvents', T.ServerSentEvents],
  ['LongPolling', T.LongPolling],
];
const protocols = [['json', () => new signalR.JsonHubProtocol()]];

let server;
before(async () => { server = await startServer('chat'); });
after(async () => { await server?.stop(); });

function started(transport, protocol, path = '/testhub') {
  const c = new signalR.HubConnectionBuilder()
    .withUrl(`${server.url}${path}`, { transport })
    .withHubProtocol(protocol())
    .configureLogging(signalR.LogLevel.None)
    .build();
  return c.start().then(() => c);
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
    });
  }
}
