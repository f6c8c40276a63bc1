// Big data in the notes example (examples/notes, binary `notes`) in Chromium: the 100,000-row virtualized list
// at /stress, and streamed rendering at /stats (the first HTML carries the loading state, the circuit fills in
// the data, and a reload shows loading then data again).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';

describe('files and big data in the notes app', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer('notes', { env: { NOTES_STATS_DELAY_MS: '400' } });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function open(path) {
    const page = await browser.newPage();
    await page.goto(`${server.url}${path}`);
    await page.waitForFunction(() => document.documentElement.dataset.circuit === 'open');
    return page;
  }

  async function finish(page) {
    const errors = page.consoleMessages.filter((m) => m.type === 'error' || m.type === 'pageerror');
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  }

  const rowTexts = (page) => page.$$eval('#rows .stress-row', (rows) => rows.map((r) => r.textContent));

  it('scrolls a 100,000-row list to its end with fewer than 100 rows in the DOM, keeping row nodes', async () => {
    const page = await open('/stress');
    let rows = await rowTexts(page);
    assert.equal(rows[0], 'Row 1');
    assert.ok(rows.length > 10 && rows.length < 100, `${rows.length} rows at the top`);
    // The scroll bar spans the whole list: 100,000 rows of 24 px.
    assert.equal(await page.$eval('#rows', (el) => el.scrollHeight), 24 * 100000);

    // A short scroll keeps the rows still in view as the same DOM nodes.
    await page.evaluate(() => {
      window.keptRow = [...document.querySelectorAll('#rows .stress-row')].find((r) => r.textContent === 'Row 12');
      document.querySelector('#rows').scrollTop = 24 * 20;
    });
    // Row 21 at the top of the viewport, ten rows of overscan above it.
    await page.waitForFunction(() => document.querySelector('#rows .stress-row').textContent === 'Row 11');
    assert.equal(await page.evaluate(() => window.keptRow.isConnected), true, 'Row 12 kept its node');

    // To the end, in steps as a user would drag the scroll bar, then all the way.
    for (const fraction of [0.25, 0.5, 0.75]) {
      await page.evaluate((f) => { const el = document.querySelector('#rows'); el.scrollTop = el.scrollHeight * f; }, fraction);
      const first = Math.floor((24 * 100000 * fraction) / 24);
      await page.waitForFunction((n) => [...document.querySelectorAll('#rows .stress-row')].some((r) => r.textContent === `Row ${n}`), first + 1);
    }
    await page.evaluate(() => { const el = document.querySelector('#rows'); el.scrollTop = el.scrollHeight; });
    await page.waitForFunction(() => [...document.querySelectorAll('#rows .stress-row')].some((r) => r.textContent === 'Row 100000'));
    rows = await rowTexts(page);
    assert.ok(rows.length < 100, `${rows.length} rows at the end`);
    assert.equal(rows.at(-1), 'Row 100000');
    assert.equal(await page.$$eval('#rows > *', (all) => all.length), rows.length + 2, 'rows and two spacers');
    // The last row is really in view.
    const visible = await page.evaluate(() => {
      const box = document.querySelector('#rows').getBoundingClientRect();
      const last = [...document.querySelectorAll('#rows .stress-row')].at(-1).getBoundingClientRect();
      return last.bottom <= box.bottom + 1 && last.top >= box.top - 1;
    });
    assert.equal(visible, true, 'Row 100000 is inside the scrolled viewport');
    await finish(page);
  });

  it('streams /stats: the first HTML has the loading state, the circuit renders the data, reload repeats it', async () => {
    const html = await (await fetch(`${server.url}/stats`)).text();
    assert.match(html, /Loading statistics…/);
    assert.doesNotMatch(html, /stats-data/);

    const page = await browser.newPage();
    await page.goto(`${server.url}/stats`);
    // Loading arrives with the document; the data only through the circuit.
    assert.equal(await page.textContent('#stats'), 'Loading statistics…');
    await page.waitForSelector('#stats .stats-data');
    assert.equal(await page.textContent('#stats .count'), '3');

    await page.click('#reload-stats');
    await page.waitForSelector('#stats .loading');
    await page.waitForSelector('#stats .stats-data');
    assert.equal(await page.textContent('#stats .count'), '3');
    await finish(page);
  });
});
