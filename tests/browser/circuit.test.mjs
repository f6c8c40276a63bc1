// The boot script with a real circuit: examples/counter behind a TCP proxy, so a test can drop the network or
// make the server unreachable while the server keeps its circuits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, watchReconnectStates } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';
import { startProxy } from './proxy.mjs';


const MODAL = `<div id="components-reconnect-modal">attempt <span id="components-reconnect-current-attempt"></span>
  of <span id="components-reconnect-max-retries"></span></div>`;

/** Makes the server's boot script tag behave as if it had autostart="false" (the page then calls start). */
function noAutostart() {
  const getter = Object.getOwnPropertyDescriptor(Document.prototype, 'currentScript').get;
  Object.defineProperty(Document.prototype, 'currentScript', {
    configurable: true,
    get() {
      const script = getter.call(this);
      if (script?.src?.includes('tether.js')) script.setAttribute('autostart', 'false');
      return script;
    },
  });
}

describe('circuit in Chromium', () => {
  let server;
  let proxy;
  let browser;

  before(async () => {
    server = await startServer('counter', { env: { RUST_LOG: 'warn' } });
    proxy = await startProxy(server.port);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.stop();
  });

  async function counterPage({ autostart = true } = {}) {
    const page = await browser.newPage();
    if (!autostart) await page.addInitScript(noAutostart);
    await page.goto(`${proxy.url}/`);
    await page.evaluate(watchReconnectStates, MODAL);
    return page;
  }

  /** Resolves when `server` prints output matching `pattern` from now on. */
  function serverLogs(server, pattern) {
    return new Promise((resolve) => {
      let seen = '';
      const listener = (chunk) => {
        seen += chunk;
        if (pattern.test(seen)) {
          server.child.stdout.off('data', listener);
          server.child.stderr.off('data', listener);
          resolve(seen);
        }
      };
      server.child.stdout.on('data', listener);
      server.child.stderr.on('data', listener);
    });
  }

  const lastState = (page) => page.evaluate(() => window.states.at(-1));

  it('counts clicks', async () => {
    const page = await counterPage();
    await page.evaluate(() => Tether.start());
    for (let i = 0; i < 3; i++) await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '3');
    assert.deepEqual(page.consoleMessages.filter((m) => m.type === 'error'), []);
    await page.close();
  });

  it('shows the modal when the network drops and hides it with the circuit state intact', async () => {
    const page = await counterPage();
    await page.evaluate(() => Tether.start());
    await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '1');
    proxy.drop();
    await page.waitForFunction(() => window.states.some((s) => s.state === 'hide'));
    const states = await page.evaluate(() => window.states);
    assert.equal(states[0].state, 'show');
    assert.match(states[0].classes, /components-reconnect-show/);
    assert.match(states.at(-1).classes, /components-reconnect-hide/);
    await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '2');
    await page.close();
  });

  it('follows an exact retry sequence, fails, and reconnect() succeeds once the server is reachable', async () => {
    const page = await counterPage({ autostart: false });
    await page.evaluate(() => Tether.start({ circuit: { reconnectionOptions: { retryIntervalMilliseconds: Array.prototype.at.bind([0, 300, 300]) } } }));
    await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '1');
    proxy.refuse();
    await page.waitForFunction(() => window.states.some((s) => s.state === 'failed'));
    const states = await page.evaluate(() => window.states.map((s) => [s.state, s.currentAttempt]));
    assert.deepEqual(states.at(-1), ['failed', 3]);
    assert.deepEqual([...new Set(states.slice(0, -1).map(([s, a]) => `${s}:${a}`))], ['show:1', 'retrying:2', 'retrying:3']);
    assert.equal(await page.textContent('#components-reconnect-max-retries'), '30');
    proxy.accept();
    assert.equal(await page.evaluate(() => Tether.reconnect()), true);
    assert.equal((await lastState(page)).state, 'hide');
    await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '2');
    await page.close();
  });

  it('cuts a long retry wait short when the tab becomes visible again', async () => {
    const page = await counterPage({ autostart: false });
    await page.evaluate(() => Tether.start({ reconnectionOptions: { retryIntervalMilliseconds: Array.prototype.at.bind([0, 600000]) } }));
    proxy.refuse();
    await page.waitForFunction(() => window.states.some((s) => s.state === 'retrying' && s.secondsToNextAttempt === 600));
    proxy.accept();
    await page.evaluate(() => {
      // Headless tabs are always visible: announce a hidden-then-visible tab the way the browser would.
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForFunction(() => window.states.at(-1).state === 'hide');
    await page.close();
  });

  it('shows rejected when the restarted server no longer has the circuit', async () => {
    const page = await counterPage();
    await page.evaluate(() => Tether.start());
    const fresh = await startServer('counter', { env: { RUST_LOG: 'warn' } });
    try {
      proxy.retarget(fresh.port);
      proxy.drop();
      await page.waitForFunction(() => window.states.some((s) => s.state === 'rejected'));
      assert.match((await lastState(page)).classes, /components-reconnect-rejected/);
      assert.equal(await page.evaluate(() => Tether.reconnect()), false);
    } finally {
      proxy.retarget(server.port);
      await fresh.stop();
    }
    await page.close();
  });

  it('ends the circuit on the server with the beacon when the page goes away, and with Tether.disconnect()', { timeout: 30000 }, async () => {
    // A server of its own, so the only circuits closing there are this test's.
    const own = await startServer('counter', { env: { RUST_LOG: 'warn,tether::circuit=info' } });
    const beacon = /circuit closed.*disconnect beacon/;
    try {
      const page = await browser.newPage();
      await page.goto(`${own.url}/`);
      await page.evaluate(() => Tether.start());
      let closed = serverLogs(own, beacon);
      await page.goto('about:blank');
      await closed;
      await page.goto(`${own.url}/`);
      await page.evaluate(() => Tether.start());
      closed = serverLogs(own, beacon);
      await page.evaluate(() => Tether.disconnect());
      await closed;
      assert.equal(await page.evaluate(() => Tether.reconnect()), false);
      await page.close();
    } finally {
      await own.stop();
    }
  });

  it('shows the built-in dialog when the page has no modal, with a retry button after failing', async () => {
    const page = await browser.newPage();
    await page.addInitScript(noAutostart);
    await page.goto(`${proxy.url}/`);
    await page.evaluate(() => Tether.start({ reconnectionOptions: { retryIntervalMilliseconds: Array.prototype.at.bind([0]) } }));
    await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '1');
    proxy.refuse();
    const dialog = page.locator('#tether-reconnect');
    const retry = page.getByRole('button', { name: 'Try again' });
    await retry.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /Could not rejoin the server/);
    proxy.accept();
    await retry.click();
    await dialog.waitFor({ state: 'hidden' });
    await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '2');
    await page.close();
  });

  it('explains a hub on another origin that refuses this page (403 without CORS headers)', async () => {
    const page = await counterPage({ autostart: false });
    // The page comes from the proxy's origin; the hub at the server's own port only allows its own origin.
    const message = await page.evaluate((hub) => Tether.start({ configureSignalR: (b) => b.withUrl(hub) }).then(() => 'started', (e) => e.message), `${server.url}/_tether`);
    assert.match(message, /no response \(status 0\).*refuses this page's origin.*403.*Allow this origin on the server/);
    await page.close();
  });

  it('runs the circuit over long polling when WebSockets are blocked', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      // Every WebSocket goes to a closed port: a real connection failure, as behind a proxy without WebSockets.
      const Real = WebSocket;
      window.WebSocket = class extends Real {
        constructor() {
          super('ws://127.0.0.1:9/');
        }
      };
    });
    await page.goto(`${proxy.url}/`);
    await page.evaluate(() => Tether.start());
    for (let i = 0; i < 2; i++) await page.click('#increment');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '2');
    assert.ok(page.consoleMessages.some((m) => m.type === 'warning' && m.text.startsWith('[tether] WebSockets failed, falling back to long polling')));
    await page.close();
  });

  it('signals a slow connection when the server goes quiet and clears it when traffic resumes', async () => {
    const page = await counterPage({ autostart: false });
    // The counter's server pings every 15 s, so with a 6 s server timeout it is "quiet" after 4 s.
    await page.evaluate(() => Tether.start({ configureSignalR: (b) => b.withServerTimeout(6000).withKeepAliveInterval(1000) }));
    await page.waitForFunction(() => window.states.some((s) => s.state === 'connectionslow'));
    assert.match((await lastState(page)).classes, /components-reconnect-slow/);
    await page.click('#increment');
    await page.waitForFunction(() => window.states.at(-1).state === 'hide');
    assert.doesNotMatch((await lastState(page)).classes, /components-reconnect-slow/);
    await page.close();
  });

  it('starts with autostart="false" and configureSignalR pointing to a hub at a custom path', async () => {
    const own = await startServer('counter', { env: { RUST_LOG: 'warn', TETHER_HUB_PATH: '/custom-hub' } });
    try {
      const page = await browser.newPage();
      await page.addInitScript(noAutostart);
      await page.goto(`${own.url}/`);
      await page.evaluate(() => Tether.start({ circuit: { configureSignalR: (builder) => builder.withUrl('/custom-hub') } }));
      await page.click('#increment');
      await page.waitForFunction(() => document.querySelector('#count').textContent === '1');
      await page.close();
    } finally {
      await own.stop();
    }
  });

  it('calls a custom reconnectionHandler instead of the modal', async () => {
    const page = await counterPage({ autostart: false });
    await page.evaluate(() => {
      window.calls = [];
      return Tether.start({
        reconnectionHandler: {
          onConnectionDown: (options, error) => {
            window.calls.push(['down', options.maxRetries, typeof error?.message]);
            Tether.reconnect();
          },
          onConnectionUp: () => window.calls.push(['up']),
        },
      });
    });
    proxy.drop();
    await page.waitForFunction(() => window.calls.length === 2);
    assert.deepEqual(await page.evaluate(() => window.calls), [['down', 30, 'string'], ['up']]);
    assert.deepEqual(await page.evaluate(() => window.states), []);
    await page.close();
  });
});
