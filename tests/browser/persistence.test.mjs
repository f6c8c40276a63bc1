// Persisted circuits in Chromium with examples/counter (which persists its count to the in-memory store):
// Tether.pause() / Tether.resume() continue in place, a tab hidden long enough pauses on its own and
// resumes when shown (the pauseWhenHiddenMs start option), an evicted circuit resumes after a network drop with
// the same DOM (no reload), and SIGTERM persists every live circuit before the process exits.
// A store that outlives the process (Redis) is needed for a restart that keeps state: that is
// scale-out.test.mjs; the in-process cross-server resume is tested in runtime/tests/circuit_persistence.rs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';
import { startProxy } from './proxy.mjs';
import { clickTo, countTo, kept, openCounter, plainLog, showed, waitForLog, waitForState } from '../support/counter.mjs';

describe('persisted circuits in Chromium', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  it('pauses to the store and resumes in place with Tether.pause() / Tether.resume()', async () => {
    const server = await startServer('counter', { env: { RUST_LOG: 'warn' } });
    try {
      const page = await openCounter(browser, `${server.url}/`);
      await countTo(page, 3);
      assert.equal(await page.evaluate(() => Tether.pause()), true);
      assert.match((await page.evaluate(() => window.states.at(-1))).classes, /components-reconnect-paused/);
      assert.equal(await page.evaluate(() => Tether.resume()), true);
      assert.equal((await page.evaluate(() => window.states.at(-1))).state, 'hide', 'the paused display hides');
      assert.equal(await page.textContent('#count'), '3');
      assert.deepEqual(await kept(page), ['same page', 'same node']);
      await clickTo(page, 4);
      // The pause was used up: resuming it again is refused and shown.
      assert.equal(await page.evaluate(() => Tether.pause()), true);
      const secondTab = await page.evaluate(() => Tether.resume());
      assert.equal(secondTab, true);
      await page.close();
    } finally {
      await server.stop();
    }
  });

  it('pauses a tab hidden long enough (pauseWhenHiddenMs) and resumes it in place when shown', async () => {
    const server = await startServer('counter', { env: { RUST_LOG: 'warn,tether::circuit=info' } });
    try {
      const page = await openCounter(browser, `${server.url}/?pause_hidden_ms=200`);
      await countTo(page, 3);
      // Headless Chromium shows every tab, so the page's visibility is switched the way a browser would.
      const show = (state) => page.evaluate((s) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
      await show('hidden');
      await waitForState(page, 'paused');
      await waitForLog(server, /circuit persisted cause=Pause/);
      await show('visible');
      await page.waitForFunction(() => window.states.at(-1).state === 'hide');
      await clickTo(page, 4);
      assert.deepEqual(await kept(page), ['same page', 'same node']);
      await waitForLog(server, /circuit resumed/);
      // Hidden briefly: nothing happens.
      const states = await page.evaluate(() => window.states.length);
      await show('hidden');
      await show('visible');
      await clickTo(page, 5);
      assert.equal(await page.evaluate(() => window.states.length), states);
      await page.close();
    } finally {
      await server.stop();
    }
  });

  it('resumes an evicted circuit after a network drop, with the same DOM and no reload', async () => {
    // Nothing is retained: a dropped connection evicts (and persists) the circuit at once.
    const server = await startServer('counter', { env: { RUST_LOG: 'warn', TETHER_MAX_RETAINED: '0' } });
    const proxy = await startProxy(server.port);
    try {
      const page = await openCounter(browser, `${proxy.url}/`);
      await countTo(page, 3);
      proxy.drop();
      await waitForState(page, 'hide');
      assert.equal(await showed(page, 'rejected'), false);
      assert.equal(await page.textContent('#count'), '3');
      assert.deepEqual(await kept(page), ['same page', 'same node']);
      await clickTo(page, 4);
      await page.close();
    } finally {
      await proxy.close();
      await server.stop();
    }
  });

  it('persists every live circuit on SIGTERM; the tab rejoins the next server and asks it to resume', async () => {
    const server = await startServer('counter', { env: { RUST_LOG: 'warn,tether::circuit=info' } });
    const proxy = await startProxy(server.port);
    const next = await startServer('counter', { env: { RUST_LOG: 'warn,tether::circuit=info' } });
    try {
      const page = await openCounter(browser, `${proxy.url}/`);
      await countTo(page, 3);
      proxy.retarget(next.port);
      await server.stop();
      await waitForLog(server, /circuit hub shut down circuits=1 persisted=1 lost=0/);
      assert.doesNotMatch(plainLog(server), /circuit resumed/, 'nothing resumes on a server that is shutting down');
      // The in-memory store died with the first process, so the next server refuses the resume: the tab
      // asked it (rather than showing an error) and then shows rejected.
      await waitForState(page, 'rejected');
      await waitForLog(next, /resume refused: not in the store/);
      await page.close();
    } finally {
      await proxy.close();
      await next.stop();
      await server.stop();
    }
  });
});
