// Circuit-level behaviour of the boot script against the real circuit hub (tests/pages, binary
// tether-test-pages): navigation reported with LocationChanged (Tether.navigateTo, back/forward, the server's
// T.Navigate), and a page whose app script removed every interactive region ends its circuit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeClean as finish, openCircuit, serverAndBrowser } from '../support/browser.mjs';

describe('circuit navigation and lifetime in Chromium', () => {
  const suite = serverAndBrowser('tether-test-pages');

  const open = (pagePath, { fakeClock = false } = {}) =>
    openCircuit(suite.browser, `${suite.server.url}${pagePath}`, {
      beforeGoto: fakeClock ? (page) => page.clock.install() : undefined,
    });

  const json = async (endpoint) => (await fetch(`${suite.server.url}${endpoint}`)).json();

  /** Polls the server (a state outside the page) until `check` returns something truthy. */
  async function until(check, what) {
    const deadline = Date.now() + 10000;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves once the server has received LocationChanged for each of `paths`, in order, after the first `from`. */
  const locationsSince = (from, paths) =>
    until(async () => {
      const seen = (await json('/_test/locations')).slice(from).map((uri) => new URL(uri).pathname + new URL(uri).search);
      return seen.length >= paths.length ? seen : null;
    }, `LocationChanged for ${paths.join(', ')}`);

  it('Tether.navigateTo and back/forward change the history entry without a load and report LocationChanged', async () => {
    const page = await open('/nav');
    const from = (await json('/_test/locations')).length;
    await page.evaluate(() => { window.__samePage = true; });
    await page.evaluate(() => Tether.navigateTo('/nav/first?x=1'));
    await page.evaluate(() => Tether.navigateTo('second', { replace: true }));
    assert.equal(await page.evaluate(() => location.pathname + location.search), '/nav/second');
    assert.equal(await page.evaluate(() => history.length), 3, 'about:blank, /nav and /nav/first only: the replace added no entry');
    await page.goBack();
    await page.waitForFunction(() => location.pathname === '/nav');
    assert.deepEqual(await locationsSince(from, ['/nav/first?x=1', '/nav/second', '/nav']), ['/nav/first?x=1', '/nav/second', '/nav']);
    assert.equal(await page.evaluate(() => window.__samePage), true, 'no page load happened');
    // The circuit still works after navigating.
    await page.click('#add');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '1');
    await finish(page);
  });

  it('the server navigates the page (T.Navigate) and hears the new location back', async () => {
    const page = await open('/nav');
    const from = (await json('/_test/locations')).length;
    await page.evaluate(() => { window.__samePage = true; });
    // At least this page's circuit gets it (a closed page's circuit may not have ended yet).
    assert.ok(Number(await (await fetch(`${suite.server.url}/_test/navigate?to=/nav/from-server`)).text()) >= 1);
    await page.waitForFunction(() => location.pathname === '/nav/from-server');
    assert.deepEqual(await locationsSince(from, ['/nav/from-server']), ['/nav/from-server']);
    assert.equal(await page.evaluate(() => window.__samePage), true, 'no page load happened');
    // Another origin is a page load.
    const elsewhere = `http://localhost:${suite.server.port}/nav/other-origin`;
    await fetch(`${suite.server.url}/_test/navigate?to=${encodeURIComponent(elsewhere)}&replace=1`);
    await page.waitForURL(elsewhere);
    assert.equal(await page.evaluate(() => window.__samePage), undefined, 'the other origin was loaded');
    await finish(page);
  });

  it('ends the circuit once app script has removed every interactive region, not when one comes back in time', async () => {
    const page = await open('/remove', { fakeClock: true });
    await page.click('#add');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '1');
    const before = await json('/_test/metrics');
    assert.ok(before.connected >= 1);

    // Removed and put back within the grace period: the circuit stays.
    await page.evaluate(() => {
      const host = document.getElementById('host');
      host.remove();
      window.__host = host;
    });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => { document.body.prepend(window.__host); resolve(); })));
    await page.clock.runFor(5000);
    await page.click('#add');
    await page.waitForFunction(() => document.querySelector('#count').textContent === '2');
    assert.equal((await json('/_test/metrics')).ended, before.ended);

    // Removed for good: after about 2 s the boot script ends the circuit on the server.
    await page.click('#remove-root');
    await page.clock.runFor(1500);
    assert.equal((await json('/_test/metrics')).ended, before.ended, 'not before the grace period');
    await page.clock.runFor(1000);
    const afterRemoval = await until(async () => {
      const m = await json('/_test/metrics');
      return m.ended > before.ended ? m : null;
    }, 'the circuit to end');
    assert.equal(afterRemoval.active, before.active - 1);
    await finish(page);
  });
});
