// The showcase in headless Chromium: every page of `showcase` (one server, all examples) is visited, its main
// interaction exercised, checked for console errors, and saved as a screenshot under TETHER_TEST_OUTPUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { startServer } from '../support/server.mjs';
import fs from 'node:fs';
import { launchBrowser, outputDir } from '../support/browser.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('showcase', { env: { SHOWCASE_IDLE_MS: '1500' } });
  browser = await launchBrowser();
});

const consoleLog = [];

after(async () => {
  await browser?.close();
  await server?.stop();
  // Kept for reading after a run: the server's log and every page's console.
  fs.writeFileSync(path.join(outputDir(), 'showcase-server.log'), server?.output() ?? '');
  fs.writeFileSync(path.join(outputDir(), 'showcase-console.log'), consoleLog.join('\n') + '\n');
});

/**
 * Opens `route` and waits until its circuit is connected (`<html data-circuit="open">`); `setup(page)` runs
 * before the navigation (to watch the page's WebSockets from the start).
 */
async function open(route, setup = () => {}) {
  const page = await browser.newPage();
  setup(page);
  await page.goto(server.url + route);
  await page.locator('html[data-circuit="open"]').waitFor({ state: 'attached' });
  return page;
}

async function textIs(page, selector, expected) {
  await page.waitForFunction(
    ([s, e]) => document.querySelector(s)?.textContent === e,
    [selector, expected],
  );
}

/** Fails on any console error or uncaught exception the page produced, except those matching `expected`. */
function assertNoConsoleErrors(page, expected) {
  const errors = page.consoleMessages.filter((m) => (m.type === 'error' || m.type === 'pageerror') && !expected?.test(m.text));
  assert.deepEqual(errors, [], `console errors on ${page.url()}`);
}

async function finish(page, name, expectedErrors) {
  for (const m of page.consoleMessages) consoleLog.push(`[${name}] ${m.type}: ${m.text}`);
  await page.screenshot({ path: path.join(outputDir(), `showcase-${name}.png`), fullPage: true });
  assertNoConsoleErrors(page, expectedErrors);
  await page.close();
}

test('index links to every example', async () => {
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  const links = await page.$$eval('ul.examples a', (as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(links, ['/counter', '/todo', '/chat', '/circuits', '/idle', '/reconnect-ui', '/auto-reload', '/interop', '/notes-app/notes', '/large-input']);
  for (const link of links) {
    const response = await page.request.get(server.url + link);
    assert.equal(response.status(), 200, link);
    // With a trailing slash the relative hub URL would be wrong: it redirects to the canonical path.
    const slashed = await page.request.get(server.url + link + '/');
    assert.equal(new URL(slashed.url()).pathname, link);
    assert.equal(slashed.status(), 200, `${link}/`);
  }
  await finish(page, 'index');
});

test('counter: the button adds one', async () => {
  const page = await open('/counter');
  await textIs(page, '#count', '0');
  await page.click('#increment');
  await textIs(page, '#count', '1');
  await page.click('#increment');
  await textIs(page, '#count', '2');
  // Away and back: the page is fetched again (not shown from the HTTP cache with used descriptors) and
  // starts a fresh circuit.
  await page.click('a.brand');
  await page.waitForURL(server.url + '/');
  await page.goBack();
  await page.locator('html[data-circuit="open"]').waitFor({ state: 'attached' });
  await textIs(page, '#count', '0');
  await page.click('#increment');
  await textIs(page, '#count', '1');
  await finish(page, 'counter');
});

test('todo: add with validation, toggle, reorder keeping DOM nodes, edit, remove', async () => {
  const page = await open('/todo');
  const titles = () => page.$$eval('#todos li .title', (spans) => spans.map((s) => s.textContent));
  assert.deepEqual(await titles(), ['Read docs/protocol.md', 'Run the showcase']);

  await page.click('#add-button');
  await page.locator('#add-error', { hasText: 'Write something first.' }).waitFor();

  await page.fill('#new-title', 'Buy milk');
  await page.click('#add-button');
  await page.locator('#todos li .title', { hasText: 'Buy milk' }).waitFor();
  await page.locator('#add-error').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelector('#new-title').value === '');

  await page.fill('#new-title', 'buy MILK');
  await page.click('#add-button');
  await page.locator('#add-error', { hasText: 'already on the list' }).waitFor();
  await page.fill('#new-title', '');

  await page.check('#todos li[data-id="1"] input[type=checkbox]');
  await page.locator('#todos li.done[data-id="1"]').waitFor();
  await textIs(page, '#todo-summary', '2 of 3 left');

  // Moving a keyed row moves its DOM node: the element marked before the move is the one that moved.
  await page.$eval('#todos li[data-id="3"]', (li) => { li.dataset.marker = 'kept'; });
  await page.click('#todos li[data-id="3"] .up');
  await page.waitForFunction(() => [...document.querySelectorAll('#todos li')].map((li) => li.dataset.id).join() === '1,3,2');
  assert.equal(await page.$eval('#todos li[data-id="3"]', (li) => li.dataset.marker), 'kept');

  await page.click('#todos li[data-id="2"] .edit');
  await page.fill('#todos li[data-id="2"] input[name=title]', 'Run the showcase in Chromium');
  await page.click('#todos li[data-id="2"] button[type=submit]');
  await page.locator('#todos li[data-id="2"] .title', { hasText: 'Run the showcase in Chromium' }).waitFor();

  await page.click('#todos li[data-id="1"] .remove');
  await page.locator('#todos li[data-id="1"]').waitFor({ state: 'detached' });
  assert.deepEqual(await titles(), ['Buy milk', 'Run the showcase in Chromium']);
  await finish(page, 'todo');
});

test('chat: two tabs see each other\'s messages live', async () => {
  const alice = await open('/chat');
  const bob = await open('/chat');
  const marker = `hello ${crypto.randomUUID().slice(0, 8)}`;
  await alice.fill('#chat-user', 'Alice');
  await alice.fill('#chat-text', marker);
  await alice.click('#chat-send');
  await bob.locator('#messages li', { hasText: marker }).waitFor();
  await alice.waitForFunction(() => document.querySelector('#chat-text').value === '');

  await bob.fill('#chat-user', 'Bob');
  await bob.fill('#chat-text', `re: ${marker}`);
  await bob.click('#chat-send');
  await alice.locator('#messages li', { hasText: `Bob` }).filter({ hasText: `re: ${marker}` }).waitFor();

  await bob.fill('#chat-text', 'no name');
  await bob.fill('#chat-user', '');
  await bob.click('#chat-send');
  await bob.locator('#chat-error', { hasText: 'Say who you are first.' }).waitFor();
  await finish(bob, 'chat-second-tab');
  await finish(alice, 'chat');
});

test('circuits dashboard: the count follows a second page opening and closing', async () => {
  const dashboard = await open('/circuits');
  await dashboard.locator('#circuits strong', { hasText: 'this tab' }).waitFor();
  await dashboard.locator('#metrics', { hasText: 'connected' }).waitFor();
  const before = Number(await dashboard.textContent('#circuit-count'));
  assert.ok(before >= 1);
  const other = await open('/counter');
  await textIs(dashboard, '#circuit-count', String(before + 1));
  assert.equal(await dashboard.locator('#circuits tbody tr').count(), before + 1);
  await dashboard.screenshot({ path: path.join(outputDir(), 'showcase-circuits-two.png'), fullPage: true });
  await other.close();
  await textIs(dashboard, '#circuit-count', String(before));
  await finish(dashboard, 'circuits');
});

test('idle: the page shows when the server marked its circuit idle', async () => {
  const page = await open('/idle');
  await page.locator('#idle-state', { hasText: 'Not idle yet' }).waitFor();
  await page.locator('#idle-marks').waitFor({ timeout: 15000 });
  assert.match(await page.textContent('#idle-times li'), /s after the page started/);
  await page.click('#activity');
  await textIs(page, '#activity-count', '1');
  await finish(page, 'idle');
});

test('custom reconnect UI: modal classes and slots through a dropped connection, state kept', async () => {
  const page = await open('/reconnect-ui');
  await page.click('#tally');
  await page.click('#tally');
  await textIs(page, '#tally-count', '2');
  const modal = page.locator('#components-reconnect-modal');

  await page.click('#drop-short');
  await page.waitForFunction(() => document.getElementById('components-reconnect-modal').classList.contains('components-reconnect-show'));
  // The CSS shows the modal only after its 500 ms transition delay.
  await page.waitForFunction(() => getComputedStyle(document.getElementById('components-reconnect-modal')).visibility === 'visible');
  await page.waitForFunction(() => document.getElementById('components-reconnect-modal').classList.contains('components-reconnect-retrying'));
  assert.equal(await page.textContent('#components-reconnect-max-retries'), '8');
  assert.match(await page.textContent('#components-reconnect-current-attempt'), /^[1-8]$/);
  assert.match(await page.textContent('#components-seconds-to-next-attempt'), /^\d+$/);
  await page.screenshot({ path: path.join(outputDir(), 'showcase-reconnect-ui-modal.png'), fullPage: true });

  await page.waitForFunction(() => document.getElementById('components-reconnect-modal').classList.contains('components-reconnect-hide'), null, { timeout: 15000 });
  assert.equal(await modal.isVisible(), false);
  await textIs(page, '#tally-count', '2');
  await page.click('#tally');
  await textIs(page, '#tally-count', '3');
  const states = await page.$$eval('#reconnect-log li', (items) => items.map((li) => li.textContent.split(' ')[0]));
  assert.deepEqual([states[0], states.at(-1)], ['show', 'hide']);
  assert.ok(states.includes('retrying'), states.join());
  await finish(page, 'reconnect-ui');
});

test('auto-reload: a short drop reconnects, a long one reloads the page with a new circuit', async () => {
  const page = await open('/auto-reload');
  await page.click('#tally');
  await textIs(page, '#tally-count', '1');

  await page.click('#drop-short');
  await page.locator('#reconnect-notice').waitFor({ state: 'visible' });
  await page.locator('#reconnect-notice').waitFor({ state: 'hidden', timeout: 15000 });
  await page.click('#tally');
  await textIs(page, '#tally-count', '2');

  const reloaded = page.waitForEvent('load', { timeout: 20000 });
  await page.click('#drop-long');
  await page.locator('#reconnect-notice', { hasText: 'attempt 3 of 3' }).waitFor({ timeout: 15000 });
  await reloaded;
  await page.locator('html[data-circuit="open"]').waitFor({ state: 'attached' });
  await textIs(page, '#tally-count', '0');
  await page.click('#tally');
  await textIs(page, '#tally-count', '1');
  await finish(page, 'auto-reload');
});

test('interop: the server calls the browser and the browser calls the server', async () => {
  const page = await open('/interop');
  await page.click('#ask-browser');
  await page.locator('#browser-answer', { hasText: 'Hello from the server' }).waitFor();
  assert.match(await page.textContent('#browser-answer'), /viewport/);

  await page.fill('#to-reverse', 'stressed');
  await page.click('#call-server');
  await page.locator('#server-answer', { hasText: 'The server answered: desserts' }).waitFor();
  await textIs(page, '#server-calls', '1');
  await finish(page, 'interop');
});

test('large input: 200 KB goes in chunks and the server reports its length and checksum', async () => {
  const frames = [];
  const page = await open('/large-input', (p) => p.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(String(f.payload)))));
  // The same text as the page's generator.
  const line = 'The quick brown fox jumps over the lazy dog. Ünïcödé ✓ ';
  let text = '';
  while (text.length < 200 * 1024) text += line;
  text = text.slice(0, 200 * 1024);

  await page.click('#fill');
  await textIs(page, '#large-chars', String(text.length));
  // The event travelled as a Chunked stream, in pieces under the 32 KB message limit.
  assert.ok(frames.some((f) => f.includes('"target":"Chunked"')), 'a Chunked invocation was sent');
  assert.ok(frames.filter((f) => f.includes('"type":2')).length >= 2, 'several stream items were sent');
  assert.ok(frames.every((f) => Buffer.byteLength(f) <= 32 * 1024), 'every frame fits the message limit');
  assert.equal(await page.textContent('#large-bytes'), String(Buffer.byteLength(text)));
  assert.equal(await page.textContent('#large-sum'), crypto.createHash('sha256').update(text).digest('hex'));
  await finish(page, 'large-input');
});

// Last: it restarts the server.
test('custom reconnect UI after a server restart: the modal says rejected and Reload starts afresh', async () => {
  const page = await open('/reconnect-ui');
  await page.click('#tally');
  await textIs(page, '#tally-count', '1');
  const addr = new URL(server.url).host;
  await server.kill();
  await page.waitForFunction(() => document.getElementById('components-reconnect-modal').classList.contains('components-reconnect-show'), null, { timeout: 40000 });
  server = await startServer('showcase', { addr, env: { SHOWCASE_IDLE_MS: '1500' } });
  await page.waitForFunction(() => document.getElementById('components-reconnect-modal').classList.contains('components-reconnect-rejected'), null, { timeout: 20000 });
  await page.locator('#components-reconnect-modal .rejected').waitFor({ state: 'visible' });
  await page.screenshot({ path: path.join(outputDir(), 'showcase-reconnect-ui-rejected.png'), fullPage: true });
  await Promise.all([page.waitForEvent('load'), page.click('#components-reconnect-modal .rejected button')]);
  await page.locator('html[data-circuit="open"]').waitFor({ state: 'attached' });
  await textIs(page, '#tally-count', '0');
  // Chromium logs a retry that reached no server (while it restarted) as a failed resource load.
  await finish(page, 'reconnect-ui-reloaded', /^Failed to load resource: net::ERR_CONNECTION_(REFUSED|RESET)$/);
});
