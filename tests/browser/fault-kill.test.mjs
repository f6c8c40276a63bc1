// Fault drill: kill -9 the counter server while several pages click as fast as they can. Every page must
// show the rejected state once the server is back (it restarted, so it has none of their circuits), and a
// reload must give a working page from the restarted server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, watchReconnectStates } from '../support/browser.mjs';
import { freePort, startServer } from '../support/server.mjs';

const PAGES = 4;
const MODAL = '<div id="components-reconnect-modal"></div>';

describe('fault drill: kill -9 under traffic', { timeout: 60000 }, () => {
  let server;
  let browser;
  let addr;

  before(async () => {
    addr = `127.0.0.1:${await freePort()}`;
    server = await startServer('counter', { addr });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('every open page shows rejected after the restart, and a reload works', async () => {
    const pages = [];
    for (let i = 0; i < PAGES; i++) {
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      await page.evaluate(watchReconnectStates, MODAL);
      await page.evaluate(() => Tether.start());
      pages.push(page);
    }
    // Traffic: every page clicks every 10 ms; wait until each has seen its own clicks rendered.
    for (const page of pages) {
      await page.evaluate(() => { window.clicker = setInterval(() => document.querySelector('#increment').click(), 10); });
    }
    for (const page of pages) {
      await page.waitForFunction(() => Number(document.querySelector('#count').textContent.replace(/\D/g, '')) >= 5);
    }

    await server.kill();
    for (const page of pages) {
      await page.waitForFunction(() => window.states.some((s) => s.state === 'show'));
    }
    server = await startServer('counter', { addr });

    for (const page of pages) {
      await page.waitForFunction(() => window.states.some((s) => s.state === 'rejected'), null, { timeout: 30000 });
      await page.evaluate(() => clearInterval(window.clicker));
      const last = await page.evaluate(() => window.states.at(-1));
      assert.equal(last.state, 'rejected');
      assert.match(last.classes, /components-reconnect-rejected/);
      assert.deepEqual(page.consoleMessages.filter((m) => m.type === 'pageerror'), []);
    }

    for (const page of pages) {
      await page.reload();
      await page.evaluate(() => Tether.start());
      assert.match(await page.textContent('#count'), /\b0\b/);
      await page.click('#increment');
      await page.waitForFunction(() => /\b1\b/.test(document.querySelector('#count').textContent));
      await page.close();
    }
  });
});
