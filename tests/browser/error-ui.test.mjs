// The error bar (client-js/src/error-ui.ts) when a circuit ends on an unhandled error: a component's click
// handler panics on the server (tests/pages `/crash`). The built-in bar shows with a reload link and a dismiss
// button; a page's own `#tether-error-ui` is shown instead, with the server's message in its slot.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consoleErrors, openCircuit, serverAndBrowser } from '../support/browser.mjs';

describe('error bar in Chromium', () => {
  const suite = serverAndBrowser('tether-test-pages');

  async function crash(path) {
    const page = await openCircuit(suite.browser, `${suite.server.url}${path}`);
    await page.evaluate(() => { window.beforeReload = true; });
    assert.equal(await page.$('#tether-error-ui:not([hidden])'), null, 'no bar before the error');
    await page.click('#crash');
    await page.waitForSelector('#tether-error-ui', { state: 'visible' });
    return page;
  }

  /** Console output other than the boot script's report of the ended circuit. */
  const unexpected = (page) => consoleErrors(page, /circuit ended on the server/);

  it('shows the built-in bar with reload and dismiss when a handler panics on the server', async () => {
    const page = await crash('/crash');
    assert.match(await page.textContent('#tether-error-ui'), /An unhandled error has occurred/);
    assert.equal(await page.getAttribute('#tether-error-ui', 'role'), 'alert');
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('#tether-error-ui')).position), 'fixed');
    await page.click('#tether-error-ui .dismiss');
    await page.waitForSelector('#tether-error-ui', { state: 'hidden' });
    // Shown again and reloaded through its link: a fresh document with a working circuit.
    await page.evaluate(() => document.querySelector('#tether-error-ui').hidden = false);
    await Promise.all([page.waitForNavigation(), page.click('#tether-error-ui .reload')]);
    assert.equal(await page.evaluate(() => window.beforeReload), undefined);
    await page.evaluate(() => Tether.start());
    assert.equal(await page.$('#tether-error-ui'), null);
    assert.deepEqual(unexpected(page), []);
    await page.close();
  });

  it("uses the page's own #tether-error-ui and puts the server's message in its slot", async () => {
    const page = await crash('/crash?own=1');
    assert.equal(await page.$$eval('[id="tether-error-ui"]', (bars) => bars.length), 1, 'no second bar');
    assert.match(await page.getAttribute('#tether-error-ui', 'class'), /\bown-bar\b.*\btether-error-ui-show\b/);
    assert.match(await page.textContent('#tether-error-ui .tether-error-message'), /unhandled error/);
    await page.click('#tether-error-ui .dismiss');
    await page.waitForSelector('#tether-error-ui', { state: 'hidden' });
    assert.deepEqual(unexpected(page), []);
    await page.close();
  });
});
