// Circuits that outlive their process, in Chromium: two counter servers (examples/counter) share the test
// Redis (TETHER_TEST_REDIS_URL) and one persistence key, behind the switchable proxy (tests/browser/proxy.mjs).
// The tab moves from A to B when A gets SIGTERM or kill -9 and goes on counting with no reload; a tampered
// or replayed resume is refused; a circuit resumed on B is refused on A; and Redis killed and restarted
// under traffic (tabs counting, official-client chat connections on two chat servers talking) costs no
// server and no state, and fan-out and persistence recover.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as signalR from '@microsoft/signalr';
import { launchBrowser } from '../support/browser.mjs';
import { connectChat, inbox } from '../support/chat.mjs';
import { startServer } from '../support/server.mjs';
import { circuitKey, redisCommand, redisSkip, sharedRedisUrl, startPrivateRedis } from '../support/redis.mjs';
import { clickTo, countTo, kept, openCounter, rejoinAfter, showed, waitForLog, waitForState } from '../support/counter.mjs';
import { startProxy } from './proxy.mjs';

/** Write-behind keeps at most this much of a user's state unsaved (the counter's default interval). */
const WRITE_BEHIND_MS = 1000;
const LOG = 'warn,tether::circuit=info';
const SUBSCRIBED = /Redis backplane: subscribed to/;

/** A counter server persisting to `redisUrl`, sealing with `key`. */
function counterServer(redisUrl, key, env = {}) {
  return startServer('counter', {
    env: { TETHER_REDIS_URL: redisUrl, TETHER_PERSISTENCE_KEY: key, TETHER_METRICS: '1', RUST_LOG: LOG, ...env },
  });
}

/** A fresh shared key, as an operator makes one with `openssl rand -hex 32`. */
const newKey = () => `1:${randomBytes(32).toString('hex')}`;

/** The value of Prometheus sample `name` at `server`'s /metrics. */
async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no ${name} in:\n${text}`);
  return Number(line.slice(name.length + 1));
}

/** An official SignalR client on `server`'s circuit hub, as a replaying attacker (or a second tab) would be. */
async function rawClient(server) {
  const c = new signalR.HubConnectionBuilder()
    .withUrl(`${server.url}/_tether`, { transport: signalR.HttpTransportType.WebSockets })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await c.start();
  return c;
}

describe('a tab moves between servers sharing Redis', { skip: redisSkip }, () => {
  let browser;
  const cleanups = [];
  before(async () => { browser = await launchBrowser(); });
  after(async () => { await browser?.close(); });

  /** Servers A and B sharing a key, the proxy on A, and the counter tab through the proxy at 3. */
  async function tabAtThreeOnA(envA = {}, envB = {}) {
    const key = newKey();
    const [a, b] = await Promise.all([counterServer(sharedRedisUrl, key, envA), counterServer(sharedRedisUrl, key, envB)]);
    const proxy = await startProxy(a.port);
    cleanups.push(() => proxy.close(), () => a.stop(), () => b.stop());
    const page = await openCounter(browser, `${proxy.url}/`);
    cleanups.push(() => page.close());
    await countTo(page, 3);
    return { a, b, proxy, page };
  }

  async function cleanUp() {
    while (cleanups.length) await cleanups.pop()();
  }

  it('SIGTERM on A: the same tab shows 3 from B with no reload and goes on to 4', async () => {
    try {
      const { a, b, proxy, page } = await tabAtThreeOnA();
      proxy.retarget(b.port);
      await rejoinAfter(page, () => a.stop());
      await waitForLog(a, /circuit hub shut down circuits=1 persisted=1 lost=0/);
      await clickTo(page, 4);
      assert.deepEqual(await kept(page), ['same page', 'same node'], 'no reload, no replaced node');
      assert.equal(await showed(page, 'rejected'), false);
      await waitForLog(b, /circuit resumed/);
      assert.equal(await metric(b, 'tether_circuits_resumed_total'), 1);
    } finally {
      await cleanUp();
    }
  });

  it('kill -9 of A two seconds after the last click: write-behind had stored it, B resumes 3', async () => {
    try {
      const { a, b, proxy, page } = await tabAtThreeOnA();
      // The scenario itself, not a wait for an event: write-behind promises at most a second of loss.
      await new Promise((resolve) => setTimeout(resolve, 2 * WRITE_BEHIND_MS));
      proxy.retarget(b.port);
      await rejoinAfter(page, () => a.kill());
      await clickTo(page, 4);
      assert.deepEqual(await kept(page), ['same page', 'same node']);
      assert.equal(await showed(page, 'rejected'), false);
      await waitForLog(b, /circuit resumed/);
    } finally {
      await cleanUp();
    }
  });

  it('a tampered resume is refused and the tab shows resume-failed', async () => {
    try {
      const { a, page } = await tabAtThreeOnA();
      assert.equal(await page.evaluate(() => Tether.pause()), true);
      // Someone with write access to Redis changes one byte of the sealed blob.
      const key = circuitKey(page.secret());
      const flipped = await redisCommand(sharedRedisUrl, 'EVAL',
        "local b = redis.call('HGET', KEYS[1], 'b'); if not b then return 0 end; " +
        "local i = math.floor(#b / 2); redis.call('HSET', KEYS[1], 'b', b:sub(1, i - 1) .. string.char((b:byte(i) + 1) % 256) .. b:sub(i + 1)); return 1",
        1, key);
      assert.equal(flipped, 1, 'the paused circuit is in Redis');
      assert.equal(await page.evaluate(() => Tether.resume()), false);
      await waitForState(page, 'resume-failed');
      await waitForLog(a, /resume refused.*failed authentication/);
      assert.equal(await metric(a, 'tether_circuit_resume_failures_total'), 1);
      assert.equal(await page.textContent('#count'), '3', 'the page keeps what it showed');
    } finally {
      await cleanUp();
    }
  });

  it('a replayed resume is refused, and the tab that resumed goes on undisturbed', async () => {
    try {
      // B without write-behind: what the store holds after B's resume is only the fence the claim left.
      const { a, b, proxy, page } = await tabAtThreeOnA({}, { TETHER_WRITE_BEHIND_MS: '0' });
      proxy.retarget(b.port);
      await rejoinAfter(page, () => a.stop());
      await clickTo(page, 4);
      const c = await counterServer(sharedRedisUrl, newKey());
      cleanups.push(() => c.stop());
      const replay = await rawClient(c);
      cleanups.push(() => replay.stop());
      assert.equal(await replay.invoke('ResumeCircuit', page.secret()), false);
      await waitForLog(c, /resume refused: not in the store/);
      await clickTo(page, 5);
      assert.deepEqual(await kept(page), ['same page', 'same node']);
    } finally {
      await cleanUp();
    }
  });

  it('a circuit resumed on B is refused on A, which still held a stale copy', async () => {
    try {
      const { a, b, proxy, page } = await tabAtThreeOnA();
      await new Promise((resolve) => setTimeout(resolve, 2 * WRITE_BEHIND_MS));
      // A network cut: A keeps the circuit (retained, disconnected); the tab lands on B and resumes there.
      proxy.retarget(b.port);
      await rejoinAfter(page, () => proxy.drop());
      await clickTo(page, 4);
      await waitForLog(b, /circuit resumed/);
      assert.equal(await metric(a, 'tether_circuits_active'), 1, 'A still holds its copy');
      const replay = await rawClient(a);
      cleanups.push(() => replay.stop());
      assert.equal(await replay.invoke('ConnectCircuit', page.secret()), false);
      await waitForLog(a, /reconnect refused: the circuit was resumed on another server/);
      assert.equal(await metric(a, 'tether_circuits_active'), 0, 'the stale copy ended');
      await clickTo(page, 5);
      assert.deepEqual(await kept(page), ['same page', 'same node']);
    } finally {
      await cleanUp();
    }
  });
});

describe('Redis killed and restarted under traffic', { skip: redisSkip }, () => {
  let browser;
  before(async () => { browser = await launchBrowser(); });
  after(async () => { await browser?.close(); });

  it('no server crashes, tabs keep counting and chat keeps talking, and fan-out and persistence recover', async () => {
    const redis = await startPrivateRedis();
    const key = newKey();
    const chatEnv = { env: { TETHER_REDIS_URL: redis.url, RUST_LOG: 'warn,tether::redis=info' } };
    const [a, b, chatA, chatB] = await Promise.all([
      counterServer(redis.url, key), counterServer(redis.url, key), startServer('chat', chatEnv), startServer('chat', chatEnv),
    ]);
    const proxy = await startProxy(a.port);
    const chats = [];
    try {
      await Promise.all([chatA, chatB].map((s) => waitForLog(s, SUBSCRIBED)));
      const alice = await connectChat(chatA);
      const bob = await connectChat(chatB);
      chats.push(alice, bob);
      const [atAlice, atBob] = [inbox(alice, 'ReceiveMessage'), inbox(bob, 'ReceiveMessage')];
      await alice.invoke('SendMessage', 'alice', 'before');
      assert.deepEqual(await atBob.next(), ['alice', 'before']);
      assert.deepEqual(await atAlice.next(), ['alice', 'before']);
      const page = await openCounter(browser, `${proxy.url}/`);
      await countTo(page, 3);

      await redis.kill();
      // The in-process paths do not need Redis: clicks keep working while saves fail (and are retried), and
      // each chat server keeps serving its own clients.
      await countTo(page, 6);
      await waitForLog(a, /persisting the circuit failed/);
      for (let i = 0; i < 5; i++) {
        await alice.invoke('SendMessage', 'alice', `during ${i}`);
        assert.deepEqual(await atAlice.next(), ['alice', `during ${i}`]);
      }
      for (const server of [a, b, chatA, chatB]) assert.equal(server.child.exitCode, null, 'every server lives');

      await redis.restart();
      // Fan-out recovers: both chat servers subscribe again, and B hears A.
      await Promise.all([chatA, chatB].map((s) => waitForLog(s, SUBSCRIBED, 2)));
      await alice.invoke('SendMessage', 'alice', 'after');
      for (;;) {
        const [, text] = await atBob.next();
        if (text === 'after') break;
        assert.match(text, /^during \d+$/, 'only messages from the outage may come late');
      }
      // Persistence recovers with no further click (retried with backoff): then A dies and B resumes 6.
      await waitForLog(a, /circuit persisted again: the store is back/);
      proxy.retarget(b.port);
      await rejoinAfter(page, () => a.kill());
      await clickTo(page, 7);
      assert.deepEqual(await kept(page), ['same page', 'same node']);
      assert.equal(await showed(page, 'rejected'), false);
      await page.close();
    } finally {
      await Promise.all(chats.map((c) => c.stop()));
      await proxy.close();
      await Promise.all([a, b, chatA, chatB].map((s) => s.stop()));
      await redis.stop();
    }
  });
});
