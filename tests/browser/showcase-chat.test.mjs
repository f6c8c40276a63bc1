// The chat example alone (`chat`): its room page (server components) and its SignalR hub (`/chathub`, for the
// official client) share one room, so a message from either side reaches the other live.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as signalR from '@microsoft/signalr';
import { startServer } from '../support/server.mjs';
import { launchBrowser, outputDir } from '../support/browser.mjs';

let server;
let browser;
let hub;

before(async () => {
  server = await startServer('chat');
  browser = await launchBrowser();
  hub = new signalR.HubConnectionBuilder()
    .withUrl(server.url + '/chathub')
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  await hub.start();
});

after(async () => {
  await hub?.stop();
  await browser?.close();
  await server?.stop();
});

test('a page message reaches SignalR clients, and a SignalR message reaches the page', async () => {
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  await page.locator('html[data-circuit="open"]').waitFor({ state: 'attached' });

  const heard = new Promise((resolve) => hub.on('ReceiveMessage', (user, text) => { if (user === 'Page') resolve(text); }));
  await page.fill('#chat-user', 'Page');
  await page.fill('#chat-text', 'from the browser');
  await page.click('#chat-send');
  assert.equal(await heard, 'from the browser');

  await hub.invoke('SendMessage', 'Console', 'from the SignalR client');
  await page.locator('#messages li', { hasText: 'from the SignalR client' }).filter({ hasText: 'Console' }).waitFor();

  await page.screenshot({ path: path.join(outputDir(), 'showcase-chat-signalr.png'), fullPage: true });
  const errors = page.consoleMessages.filter((m) => m.type === 'error' || m.type === 'pageerror');
  assert.deepEqual(errors, []);
  await page.close();
});
