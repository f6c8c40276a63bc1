// Forms against the real circuit hub (tests/pages, binary tether-test-pages): typing fast into a field the
// server re-renders keeps every character and the caret; a server that normalises the value wins; keyed rows
// reordered by the server keep their DOM nodes, focus and typed text.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';

const binDir = process.env.TETHER_BIN_DIR ?? path.resolve(import.meta.dirname, '../../target/debug');
const missing = !fs.existsSync(path.join(binDir, 'tether-test-pages')) && 'needs the tether-test-pages binary (cargo build --workspace --bins)';

describe('forms in Chromium', { skip: missing }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer('tether-test-pages');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Opens `path` and waits until its circuit is connected (Tether.start() resolves then). */
  async function open(pagePath) {
    const page = await browser.newPage();
    await page.goto(`${server.url}${pagePath}`);
    await page.evaluate(() => Tether.start());
    return page;
  }

  async function finish(page) {
    const errors = page.consoleMessages.filter((m) => m.type === 'error' || m.type === 'pageerror');
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  }

  const fieldState = (page) =>
    page.evaluate(() => {
      const field = document.querySelector('#field');
      return { value: field.value, start: field.selectionStart, end: field.selectionEnd, focused: document.activeElement === field };
    });

  it('typing fast while the server re-renders the field loses no character and keeps the caret', async () => {
    const page = await open('/echo');
    await page.focus('#field');
    const first = 'the quick brown fox jumps over the lazy dog';
    await page.keyboard.type(first, { delay: 0 });
    await page.waitForFunction((want) => document.querySelector('#upper').textContent === want, first.toUpperCase());
    assert.deepEqual(await fieldState(page), { value: first, start: first.length, end: first.length, focused: true });

    // Into the middle: the caret stays where the user put it while the server keeps re-rendering.
    for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowLeft');
    const inserted = 'VERY ';
    await page.keyboard.type(inserted, { delay: 0 });
    const want = first.slice(0, -8) + inserted + first.slice(-8);
    await page.waitForFunction((w) => document.querySelector('#upper').textContent === w, want.toUpperCase());
    const caret = first.length - 8 + inserted.length;
    assert.deepEqual(await fieldState(page), { value: want, start: caret, end: caret, focused: true });
    await finish(page);
  });

  it('a server that normalises the value wins, and the caret stays in the field', async () => {
    const page = await open('/strip');
    await page.focus('#field');
    await page.keyboard.type('ab1c2d3ef45g', { delay: 0 });
    await page.waitForFunction(() => document.querySelector('#upper').textContent === 'ABCDEFG');
    await page.waitForFunction(() => document.querySelector('#field').value === 'abcdefg');
    const state = await fieldState(page);
    assert.equal(state.focused, true);
    assert.equal(state.start, state.end);
    assert.ok(state.start <= 7);
    // Typing goes on normally after the server's correction.
    await page.keyboard.press('End');
    await page.keyboard.type('h9i', { delay: 0 });
    await page.waitForFunction(() => document.querySelector('#upper').textContent === 'ABCDEFGHI');
    await page.waitForFunction(() => document.querySelector('#field').value === 'abcdefghi');
    await finish(page);
  });
});
