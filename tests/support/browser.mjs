// Launches Debian's headless Chromium through playwright-core with the flags this machine needs and a fresh
// user-data dir, collecting console errors per page so tests can assert there were none; and the suite setup
// most browser tests share (one example server and one browser per suite, pages opened with a live circuit).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { startServer } from './server.mjs';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launchBrowser() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      page.consoleMessages = [];
      page.on('console', (m) => page.consoleMessages.push({ type: m.type(), text: m.text() }));
      page.on('pageerror', (e) => page.consoleMessages.push({ type: 'pageerror', text: String(e) }));
      return page;
    },
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts example binary `name` (options as for startServer) and a browser before the enclosing suite, and
 * stops both after it. Call it in a `describe` body; the returned object's `server` and `browser` are set
 * once the suite's `before` hook ran.
 */
export function serverAndBrowser(name, options) {
  const suite = { server: undefined, browser: undefined };
  before(async () => {
    suite.server = await startServer(name, options);
    suite.browser = await launchBrowser();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.server?.stop();
  });
  return suite;
}

/**
 * Opens `url` in a new page of `browser` and waits until its circuit is connected (`Tether.start()` resolves
 * then). `beforeGoto(page)` runs first, for what must be in place before the document loads.
 */
export async function openCircuit(browser, url, { beforeGoto } = {}) {
  const page = await browser.newPage();
  if (beforeGoto) await beforeGoto(page);
  await page.goto(url);
  await page.evaluate(() => Tether.start());
  return page;
}

/** The page's console errors and uncaught errors, but those whose text matches `ignore`. */
export function consoleErrors(page, ignore) {
  return page.consoleMessages.filter(
    (m) => (m.type === 'error' || m.type === 'pageerror') && !(ignore && ignore.test(m.text)),
  );
}

/** Asserts the page logged no errors (but those matching `ignore`), then closes it. */
export async function closeClean(page, ignore) {
  assert.deepEqual(consoleErrors(page, ignore), [], 'no console errors');
  await page.close();
}

/**
 * Runs in the page (`page.evaluate(watchReconnectStates, modalHtml)`): records every reconnect state event in
 * `window.states` and adds the page's own reconnect modal, so the built-in dialog (which reloads) stays out.
 */
export function watchReconnectStates(modalHtml) {
  window.states = [];
  document.addEventListener('components-reconnect-state-changed', (e) => {
    window.states.push({ ...e.detail, classes: e.target.className });
  });
  document.body.insertAdjacentHTML('beforeend', modalHtml);
}

/** Where tests save screenshots and logs. */
export function outputDir() {
  const dir = process.env.TETHER_TEST_OUTPUT ?? path.resolve(import.meta.dirname, '../output');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
