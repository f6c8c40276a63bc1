// Files and big data in the notes example (examples/notes, binary `notes`) in Chromium: attachments on
// /notes/{id} (a 5 MB upload with progress and a byte-identical download, an oversize file refused before any
// byte moves, cancel from the server and from the browser, a connection dropped mid-upload, drag and drop), the
// 100,000-row virtualized list at /stress, and streamed rendering at /stats (the first HTML carries the loading
// state, the circuit fills in the data, and a reload shows loading then data again).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { closeClean, openCircuit, serverAndBrowser } from '../support/browser.mjs';
import { startProxy } from './proxy.mjs';

const MB = 1024 * 1024;
const sha256 = (buffer) => crypto.createHash('sha256').update(buffer).digest('hex');

describe('files and big data in the notes app', () => {
  const suite = serverAndBrowser('notes', { env: { NOTES_STATS_DELAY_MS: '400' } });
  /** A TCP proxy in front of the server, for the test that drops the connection. */
  let proxy;

  before(async () => {
    proxy = await startProxy(suite.server.port);
  });

  after(async () => {
    await proxy?.close();
  });

  const open = (path, base = suite.server.url) => openCircuit(suite.browser, `${base}${path}`);

  /** Opens a note page and waits for the upload module, which the page loads because it has `t-upload`. */
  async function openNote(id, base) {
    const page = await open(`/notes/${id}`, base);
    await page.waitForFunction(() => window.TetherUpload !== undefined);
    return page;
  }

  /** The SHA-256 of what `a.attachment` named `name` downloads, and the response's disposition. */
  async function download(page, name) {
    const link = page.locator('a.attachment', { hasText: name });
    const href = await link.getAttribute('href');
    assert.match(href, /^\/_tether\/download\/[A-Za-z0-9_-]{43}$/, 'an unguessable single-use token URL');
    return page.evaluate(async (url) => {
      const response = await fetch(url);
      const digest = await crypto.subtle.digest('SHA-256', await response.arrayBuffer());
      const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
      return { hex, disposition: response.headers.get('content-disposition'), status: response.status };
    }, href);
  }

  /** Holds back the chunks the browser sends from `offset` on until `window.releaseChunks()`. */
  async function holdChunksFrom(page, offset) {
    await page.evaluate((from) => {
      let release;
      const released = new Promise((resolve) => (release = resolve));
      window.releaseChunks = release;
      window.heldChunks = 0;
      TetherUpload.hold = (id, at) => {
        if (at < from) return undefined;
        window.heldChunks++;
        return released;
      };
    }, offset);
  }

  it('uploads 5 MB with progress to the end, and the attachment link downloads the same bytes', async () => {
    const page = await openNote(1);
    const bytes = crypto.randomBytes(5 * MB);
    // Every progress value the page shows.
    await page.evaluate(() => {
      window.progressSeen = new Set();
      new MutationObserver(() => {
        const bar = document.querySelector('#upload-progress');
        if (bar) window.progressSeen.add(bar.value);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.setInputFiles('input[type=file][name="attachment"]', { name: 'five.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await page.waitForSelector('a.attachment:has-text("five.bin")');
    const bar = await page.$eval('#upload-progress', (p) => [p.value, p.max]);
    assert.deepEqual(bar, [5 * MB, 5 * MB], 'the progress bar ends full');
    const seen = await page.evaluate(() => [...window.progressSeen]);
    assert.ok(seen.filter((v) => v > 0 && v < 5 * MB).length >= 3, `progress in between: ${seen.length} values`);
    assert.equal(await page.evaluate(() => TetherUpload.sent), 5 * MB);
    assert.equal(await page.evaluate(() => TetherUpload.held), 0);

    const got = await download(page, 'five.bin');
    assert.equal(got.status, 200);
    assert.equal(got.hex, sha256(bytes), 'the download is byte for byte the upload');
    assert.match(got.disposition, /^attachment; filename="five.bin"/);
    // The link is not the hub's business: a token that was never offered is a 404 with a reason.
    const missing = await fetch(`${suite.server.url}/_tether/download/${'A'.repeat(43)}`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /unknown or has expired/);
    await closeClean(page);
  });

  it('refuses a file over 20 MB before any byte is sent', async () => {
    const page = await openNote(2);
    await page.setInputFiles('input[name="attachment"]', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(20_000_001) });
    await page.waitForSelector('.validation-message');
    assert.match(await page.textContent('.validation-message'), /big\.bin is 20000001 bytes and the limit is 20000000 bytes/);
    assert.equal(await page.evaluate(() => TetherUpload.sent), 0, 'no bytes sent');
    await page.waitForFunction(() => TetherUpload.held === 0);
    assert.equal(await page.$('#upload-progress'), null);
    assert.equal(await page.$$eval('a.attachment', (links) => links.length), 0);
    await closeClean(page);
  });

  it('cancels from the page (the server stops granting) and from the browser (the pending grant fails)', async () => {
    const page = await openNote(3);
    await holdChunksFrom(page, 256 * 1024);
    await page.setInputFiles('input[name="attachment"]', { name: 'one.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MB, 1) });
    await page.waitForFunction(() => document.querySelector('#upload-progress')?.value === 256 * 1024);
    await page.waitForFunction(() => window.heldChunks > 0);
    await page.click('#cancel-upload');
    await page.waitForSelector('.upload-status:has-text("Upload of one.bin cancelled.")');
    // The server told the browser to forget the file.
    await page.waitForFunction(() => TetherUpload.held === 0);
    assert.equal(await page.$('#upload-progress'), null);
    await page.evaluate(() => window.releaseChunks());

    // Browser side: the page drops the files it holds; the server's pending grant fails.
    await holdChunksFrom(page, 128 * 1024);
    await page.setInputFiles('input[name="attachment"]', { name: 'two.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MB, 2) });
    await page.waitForFunction(() => window.heldChunks > 0);
    await page.evaluate(() => {
      TetherUpload.cancel();
      window.releaseChunks();
    });
    await page.waitForSelector('.upload-status:has-text("Upload of two.bin cancelled.")');
    assert.equal(await page.$$eval('a.attachment', (links) => links.length), 0, 'nothing stored');
    const sent = await page.evaluate(() => TetherUpload.sent);
    assert.ok(sent < MB, `${sent} bytes sent of the two cancelled megabytes`);
    await closeClean(page);
  });

  it('fails an upload cleanly when the connection drops mid-upload; the circuit lives on', async () => {
    const page = await openNote(1, proxy.url);
    await page.evaluate(() => { window.sameDocument = 'yes'; });
    await holdChunksFrom(page, 64 * 1024);
    await page.setInputFiles('input[name="attachment"]', { name: 'dropped.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MB, 3) });
    await page.waitForFunction(() => window.heldChunks > 0);
    proxy.drop();
    // The page reconnects to the same circuit, which tells it how the upload ended.
    await page.waitForSelector('.upload-status:has-text("Upload of dropped.bin failed: the connection was lost during the upload.")');
    await page.evaluate(() => window.releaseChunks());
    assert.equal(await page.evaluate(() => window.sameDocument), 'yes', 'no reload');
    // The circuit still works: a new upload goes through.
    await page.evaluate(() => { TetherUpload.hold = undefined; });
    await page.setInputFiles('input[name="attachment"]', { name: 'after.bin', mimeType: 'text/plain', buffer: Buffer.from('still here') });
    await page.waitForSelector('a.attachment:has-text("after.bin")');
    assert.equal((await download(page, 'after.bin')).hex, sha256(Buffer.from('still here')));
    await page.close();
  });

  it('uploads a file dropped on the drop zone', async () => {
    const page = await openNote(2);
    const hex = await page.evaluate(async () => {
      const bytes = new Uint8Array(300 * 1024).map((_, i) => (i * 31) % 256);
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dropped-in.bin', { type: 'application/octet-stream' }));
      const zone = document.querySelector('#dropzone');
      const over = new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true });
      zone.dispatchEvent(over);
      if (!over.defaultPrevented) throw new Error('the drop zone did not accept the drag');
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      const digest = await crypto.subtle.digest('SHA-256', bytes);
      return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    });
    await page.waitForSelector('a.attachment:has-text("dropped-in.bin")');
    assert.equal((await download(page, 'dropped-in.bin')).hex, hex);
    await closeClean(page);
  });

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
    await closeClean(page);
  });

  it('streams /stats: the first HTML has the loading state, the circuit renders the data, reload repeats it', async () => {
    const html = await (await fetch(`${suite.server.url}/stats`)).text();
    assert.match(html, /Loading statistics…/);
    assert.doesNotMatch(html, /stats-data/);

    // Not openCircuit: the loading state must be seen before the circuit is up.
    const page = await suite.browser.newPage();
    await page.addInitScript(() => {
      document.addEventListener('DOMContentLoaded', () => (window.firstStats = document.querySelector('#stats').textContent));
    });
    await page.goto(`${suite.server.url}/stats`);
    // Loading arrives with the document; the data only through the circuit.
    assert.equal(await page.evaluate(() => window.firstStats), 'Loading statistics…');
    await page.waitForSelector('#stats .stats-data');
    assert.equal(await page.textContent('#stats .count'), '3');

    await page.click('#reload-stats');
    await page.waitForSelector('#stats .loading');
    await page.waitForSelector('#stats .stats-data');
    assert.equal(await page.textContent('#stats .count'), '3');
    await closeClean(page);
  });
});
