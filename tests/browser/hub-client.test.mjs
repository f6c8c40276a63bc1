// The boot script's hub client in headless Chromium against the real hub (examples/chat, hub at /chathub).
// The chat example serves no HTML, so each test opens a plain-text answer of the server (`GET /chathub`
// without a connection id: 400 "Connection ID required"), which puts the page on the hub's origin, and loads the
// code there: the committed bundle for the boot-script tests, and a test build of the hub connection module
// (client-js/src/hub-connection.ts) for the transport tests. Circuit behaviour (batches, events, the
// reconnect lifecycle) needs the circuit hub and is covered by client-js/test/circuit.test.mjs until then.
import * as esbuild from 'esbuild';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defines } from '../../client-js/build.mjs';
import { launchBrowser } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const BUNDLE = fs.readFileSync(path.join(root, 'client-js/dist/tether.js'), 'utf8');
const HUB_TEST_BUNDLE = (
  await esbuild.build({
    stdin: {
      contents: "export { HubConnection } from './hub-connection'; export { Logger } from './log';",
      resolveDir: path.join(root, 'client-js/src'),
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    globalName: 'TetherHub',
    target: 'es2022',
    define: await defines(),
    write: false,
  })
).outputFiles[0].text;

let browser;
let server;

before(async () => {
  // A quiet server (no keep-alive pings for a minute) lets the slow-connection test observe silence.
  server = await startServer('chat', { env: { TETHER_KEEPALIVE_MS: '60000' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page on the chat server's origin with the hub test bundle loaded. */
async function hubPage() {
  const page = await browser.newPage();
  await page.goto(`${server.url}/chathub`);
  await page.addScriptTag({ content: HUB_TEST_BUNDLE });
  return page;
}

/** A page on the chat server's origin with one root region and the boot script, not started. */
async function bootPage() {
  const page = await browser.newPage();
  await page.goto(`${server.url}/chathub`);
  await page.evaluate((bundle) => {
    document.body.innerHTML = '<!--t:r:descriptor--><p>prerendered</p><!--/t-->';
    const script = document.createElement('script');
    script.setAttribute('autostart', 'false');
    script.textContent = bundle;
    document.body.appendChild(script);
  }, BUNDLE);
  return page;
}

// The host page itself is an error answer (and has no favicon): those resource errors are not the script's.
const errors = (page) =>
  page.consoleMessages.filter((m) => (m.type === 'error' || m.type === 'pageerror') && !m.text.startsWith('Failed to load resource')).map((m) => m.text);
const warnings = (page) => page.consoleMessages.filter((m) => m.type === 'warning').map((m) => m.text);

describe('hub client in Chromium against the real hub', () => {
  it('connects over WebSockets, invokes, and receives server invocations', async () => {
    const page = await hubPage();
    const result = await page.evaluate(async () => {
      const hub = new TetherHub.HubConnection({ url: `${location.origin}/chathub`, serverTimeoutMs: 30000, keepAliveMs: 15000, handshakeTimeoutMs: 15000, logger: new TetherHub.Logger(3) });
      const notes = [];
      hub.on('Notify', (text) => notes.push(text));
      await hub.start();
      const echoed = await hub.invoke('Echo', [{ text: 'é😀', list: [1, 2.5, null] }]);
      await hub.invoke('NotifyMe', ['hello']);
      const failure = await hub.invoke('Fail', []).then(() => 'resolved', (e) => e.message);
      const transport = hub.transport.name;
      hub.stop();
      return { transport, echoed, notes, failure };
    });
    assert.deepEqual(result, {
      transport: 'WebSockets',
      echoed: { text: 'é😀', list: [1, 2.5, null] },
      notes: ['hello'],
      failure: result.failure,
    });
    assert.notEqual(result.failure, 'resolved');
    assert.deepEqual(errors(page), []);
    await page.close();
  });

  it('falls back to long polling with a console warning when WebSockets are blocked', async () => {
    const page = await hubPage();
    const result = await page.evaluate(async () => {
      // Every WebSocket goes to a closed port: a real connection failure, as behind a proxy without WebSockets.
      const Real = WebSocket;
      window.WebSocket = class extends Real {
        constructor() {
          super('ws://127.0.0.1:9/');
        }
      };
      const hub = new TetherHub.HubConnection({ url: `${location.origin}/chathub`, serverTimeoutMs: 30000, keepAliveMs: 15000, handshakeTimeoutMs: 15000, logger: new TetherHub.Logger(3) });
      const notes = [];
      hub.on('Notify', (text) => notes.push(text));
      await hub.start();
      const echoed = await hub.invoke('Echo', ['over polling']);
      await hub.invoke('NotifyMe', ['polled']);
      const transport = hub.transport.name;
      hub.stop();
      return { transport, echoed, notes };
    });
    assert.deepEqual(result, { transport: 'LongPolling', echoed: 'over polling', notes: ['polled'] });
    assert.ok(
      warnings(page).some((w) => w.startsWith('[tether] WebSockets failed, falling back to long polling: the WebSocket to') && w.includes('close code 1006')),
      JSON.stringify(page.consoleMessages),
    );
    await page.close();
  });

  it('signals a slow connection at two thirds of the server timeout, then declares it lost', async () => {
    const page = await hubPage();
    const result = await page.evaluate(async () => {
      const hub = new TetherHub.HubConnection({ url: `${location.origin}/chathub`, serverTimeoutMs: 900, keepAliveMs: 400, handshakeTimeoutMs: 15000, logger: new TetherHub.Logger(3) });
      await hub.start();
      const events = [];
      const started = performance.now();
      await new Promise((resolve) => {
        hub.onslow = (slow) => events.push(['slow', slow, Math.round(performance.now() - started)]);
        hub.onclose = (error) => {
          events.push(['closed', error.message]);
          resolve();
        };
      });
      return events;
    });
    assert.equal(result.length, 2, JSON.stringify(result));
    assert.deepEqual(result[0].slice(0, 2), ['slow', true]);
    assert.ok(result[0][2] >= 550, `slow after ${result[0][2]} ms, expected about 600`);
    assert.match(result[1][1], /sent nothing for 900 ms/);
    await page.close();
  });
});

describe('boot script in Chromium against the real hub', () => {
  it('explains a wrong hub path (404) in the console and rejects start()', async () => {
    const page = await bootPage();
    const message = await page.evaluate(() => Tether.start({ configureSignalR: (b) => b.withUrl('/no-such-hub') }).then(() => 'started', (e) => e.message));
    assert.match(message, /404 from http:\/\/127\.0\.0\.1:\d+\/no-such-hub\/negotiate\?negotiateVersion=1: no hub at this path/);
    assert.ok(errors(page).some((e) => e.startsWith('[tether] could not start the circuit') && e.includes('404 from') && e.includes('withUrl')), JSON.stringify(errors(page)));
    await page.close();
  });

  it('reaches a hub at a custom path set with configureSignalR and reports the refused StartCircuit', async () => {
    const page = await bootPage();
    // The chat hub has no circuit methods, so the real hub answers StartCircuit with an error Completion.
    const message = await page.evaluate(() =>
      Tether.start({ circuit: { configureSignalR: (b) => b.withUrl('/chathub').withServerTimeout(30000).withKeepAliveInterval(15000) } }).then(() => 'started', (e) => e.message),
    );
    assert.match(message, /^could not start the circuit at http:\/\/127\.0\.0\.1:\d+\/chathub: /);
    // Only the reason after the URL: the URL's port may contain "404".
    const reason = message.replace(/^could not start the circuit at \S+: /, '');
    assert.doesNotMatch(reason, /404|negotiat|WebSocket/, 'negotiation, WebSocket and handshake succeeded');
    await page.close();
  });

  it('names a bad option in a console error', async () => {
    const page = await bootPage();
    await page.evaluate(() => Tether.start({ reconnectionOptions: { maxRetries: 'many' }, configureSignalR: (b) => b.withUrl('/no-such-hub') }).catch(() => {}));
    assert.ok(errors(page).some((e) => e.startsWith('[tether] reconnectionOptions.maxRetries must be a non-negative integer; got "many"')), JSON.stringify(errors(page)));
    await page.close();
  });
});
