// The chat example as two server processes sharing Redis (TETHER_REDIS_URL): official @microsoft/signalr
// clients on server A and server B see each other's messages, group messages (including a group add for
// a connection on the other server), user messages and client results; and with a Redis of the test's own,
// killed and restarted under traffic, neither server crashes and fan-out between them recovers.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { startServer } from '../support/server.mjs';
import { sharedRedisUrl, redisSkip, startPrivateRedis } from '../support/redis.mjs';
import { PATIENCE_MS, connectChat, inbox } from '../support/chat.mjs';

const T = signalR.HttpTransportType;
// Info lines from the backplane tell when each server has subscribed (no sleeping until it might have).
const LOG = 'warn,tether::redis=info';
const SUBSCRIBED = /Redis backplane: subscribed to/g;

/** The value of the Prometheus sample `name` (with its label set) at `server`'s /metrics. */
async function metric(server, name) {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no ${name} in:\n${text}`);
  return Number(line.slice(name.length + 1));
}

/** Resolves once `server` has logged `pattern` at least `count` times. */
function logged(server, pattern, count = 1) {
  const seen = () => (server.output().match(pattern) ?? []).length >= count;
  if (seen()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.child.stderr.off('data', check);
      reject(new Error(`no ${count}× ${pattern} within ${PATIENCE_MS} ms:\n${server.output()}`));
    }, PATIENCE_MS);
    const check = () => {
      if (seen()) { clearTimeout(timer); server.child.stderr.off('data', check); resolve(); }
    };
    // startServer collects stderr on its own listener, added first: output() is current when this runs.
    server.child.stderr.on('data', check);
  });
}

async function chatServer(redisUrl) {
  const server = await startServer('chat', { env: { TETHER_REDIS_URL: redisUrl, RUST_LOG: LOG, TETHER_METRICS: '1' } });
  await logged(server, SUBSCRIBED);
  return server;
}

const connect = connectChat;

describe('chat across two servers sharing Redis', { skip: redisSkip }, () => {
  let a, b;
  const connections = [];
  before(async () => {
    [a, b] = await Promise.all([chatServer(sharedRedisUrl), chatServer(sharedRedisUrl)]);
  });
  after(async () => {
    await Promise.all(connections.map((c) => c.stop()));
    await Promise.all([a?.stop(), b?.stop()]);
  });
  const open = async (...args) => { const c = await connect(...args); connections.push(c); return c; };

  test('messages sent on either server reach connections on both', async () => {
    const alice = await open(a);
    const bob = await open(b, { transport: T.ServerSentEvents });
    const [atAlice, atBob] = [inbox(alice, 'ReceiveMessage'), inbox(bob, 'ReceiveMessage')];
    await alice.invoke('SendMessage', 'alice', 'hello from A');
    assert.deepEqual(await atBob.next(), ['alice', 'hello from A']);
    assert.deepEqual(await atAlice.next(), ['alice', 'hello from A']);
    await bob.invoke('SendMessage', 'bob', 'hello from B');
    assert.deepEqual(await atAlice.next(), ['bob', 'hello from B']);
    assert.deepEqual(await atBob.next(), ['bob', 'hello from B']);
    assert.ok(await metric(a, 'tether_hub_connections{hub="chat"}') >= 1);
    assert.ok(await metric(b, 'tether_backplane_received_total{hub="chat"}') >= 2);
    assert.ok(await metric(a, 'tether_hub_messages_received_total{hub="chat"}') >= 2);
  });

  test('group messages reach members on the other server, and only them', async () => {
    const alice = await open(a);
    const bob = await open(b, { transport: T.LongPolling });
    const carol = await open(b);
    const [toAlice, toBob, toCarol] = [alice, bob, carol].map((c) => inbox(c, 'GroupMessage'));
    await bob.invoke('JoinGroup', 'room');
    await alice.invoke('SendToGroup', 'room', 'for the room');
    assert.deepEqual(await toBob.next(), ['room', 'for the room']);

    // Alice (server A) puts Carol (server B) in a group and writes to it at once.
    await alice.invoke('AddToGroup', carol.connectionId, 'late');
    await alice.invoke('SendToGroup', 'late', 'welcome carol');
    assert.deepEqual(await toCarol.next(), ['late', 'welcome carol']);

    // A marker to everyone, sent after the group messages from the same server: by the time it arrives,
    // any group message that wrongly reached a non-member would have arrived too.
    const markers = [alice, bob, carol].map((c) => inbox(c, 'ReceiveMessage'));
    await alice.invoke('SendMessage', 'alice', 'marker');
    for (const m of markers) assert.deepEqual(await m.next(), ['alice', 'marker']);
    assert.equal(toAlice.items.length, 0, 'alice is in no group');
    assert.equal(toBob.items.length, 0, 'bob is not in "late"');
    assert.equal(toCarol.items.length, 0, 'carol is not in "room"');
  });

  test('user messages reach every connection of that user on both servers', async () => {
    const dana1 = await open(a, { user: 'dana' });
    const dana2 = await open(b, { user: 'dana', transport: T.ServerSentEvents });
    const erin = await open(a, { user: 'erin' });
    const [d1, d2, e] = [dana1, dana2, erin].map((c) => inbox(c, 'UserMessage'));
    await erin.invoke('SendToUser', 'dana', 'hi dana');
    assert.deepEqual(await d1.next(), ['hi dana']);
    assert.deepEqual(await d2.next(), ['hi dana']);
    const back = await open(b);
    await back.invoke('SendToUser', 'erin', 'hi erin');
    assert.deepEqual(await e.next(), ['hi erin']);
  });

  test('a client result is awaited across servers', async () => {
    const asker = await open(a);
    const answerer = await open(b);
    answerer.on('GetName', (n) => `bob #${n}`);
    assert.equal(await asker.invoke('AskConnection', answerer.connectionId, 'GetName', 7), 'bob #7');
    await assert.rejects(asker.invoke('AskConnection', answerer.connectionId, 'NoSuchHandler', 1),
      /the client answered with an error/);
  });
});

describe('Redis killed and restarted under traffic', { skip: redisSkip }, () => {
  let redis, a, b;
  before(async () => {
    redis = await startPrivateRedis();
    [a, b] = await Promise.all([chatServer(redis.url), chatServer(redis.url)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test('no server crashes, each keeps serving its own clients, and fan-out recovers', async () => {
    const alice = await connect(a);
    const bob = await connect(b);
    try {
      const [atAlice, atBob] = [inbox(alice, 'ReceiveMessage'), inbox(bob, 'ReceiveMessage')];
      await alice.invoke('SendMessage', 'alice', 'before');
      assert.deepEqual(await atBob.next(), ['alice', 'before']);
      assert.deepEqual(await atAlice.next(), ['alice', 'before']);

      await redis.kill();
      await Promise.all([a, b].map((s) => logged(s, /Redis backplane: subscription lost/g)));
      for (let i = 0; i < 50; i++) {
        await alice.invoke('SendMessage', 'alice', `during ${i}`);
        assert.deepEqual(await atAlice.next(), ['alice', `during ${i}`]);
      }
      // The outage is visible: the subscription gauge is down and publishing failures are counted.
      assert.equal(await metric(a, 'tether_backplane_subscribed{hub="chat"}'), 0);
      assert.ok(await metric(a, 'tether_backplane_publish_failures_total{hub="chat"}') >= 1);
      assert.equal(a.child.exitCode, null, 'server A lives');
      assert.equal(b.child.exitCode, null, 'server B lives');

      await redis.restart();
      await Promise.all([a, b].map((s) => logged(s, SUBSCRIBED, 2)));
      assert.equal(await metric(b, 'tether_backplane_subscribed{hub="chat"}'), 1);
      assert.equal(await metric(b, 'tether_backplane_subscriber_reconnects_total{hub="chat"}'), 1);
      await alice.invoke('SendMessage', 'alice', 'after');
      // Messages queued during the outage may come late (within the publish deadline) or be lost.
      for (;;) {
        const [, text] = await atBob.next();
        if (text === 'after') break;
        assert.match(text, /^during \d+$/);
      }
      await bob.invoke('SendMessage', 'bob', 'and back');
      for (;;) {
        const [, text] = await atAlice.next();
        if (text === 'and back') break;
        assert.equal(text, 'after');
      }
    } finally {
      await Promise.all([alice.stop(), bob.stop()]);
    }
  });
});
