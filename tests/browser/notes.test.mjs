// The notes example (examples/notes, binary `notes`) in Chromium: live navigation inside one circuit (no reload,
// back/forward, focus), deep-link prerendering with the right status, NavLink marking, form validation, sign-in
// with a return URL, revocation noticed by an open page, a reconnect by another user refused, and the error bar.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeClean as finish, launchBrowser, serverAndBrowser } from '../support/browser.mjs';

describe('notes app in Chromium', () => {
  // A short revalidation interval so that a revoked session is noticed within the test.
  const suite = serverAndBrowser('notes', { env: { NOTES_REVALIDATE_MS: '200' } });

  /** Opens `path`, waits until the circuit is connected, and marks the document to detect reloads. */
  async function open(path, b = suite.browser) {
    const page = await b.newPage();
    const response = await page.goto(`${suite.server.url}${path}`);
    await page.waitForFunction(() => document.documentElement.dataset.circuit === 'open');
    await page.evaluate(() => { window.sameDocument = 'yes'; });
    return { page, response };
  }

  const sameDocument = (page) => page.evaluate(() => window.sameDocument);
  const heading = (page) => page.textContent('h1');
  const pathOf = (page) => new URL(page.url()).pathname + new URL(page.url()).search;

  async function signIn(page, user, password, path = '/login') {
    await page.goto(`${suite.server.url}${path}`);
    await page.fill('input[name="user"]', user);
    await page.fill('input[name="password"]', password);
    await Promise.all([page.waitForNavigation(), page.click('#login button[type="submit"]')]);
  }

  it('follows links inside the circuit without reloading, with back and forward, focus and NavLinks', async () => {
    const { page } = await open('/notes');
    assert.equal(await page.getAttribute('a[href="/notes"]', 'aria-current'), 'page');
    assert.match(await page.getAttribute('nav a[href="/notes"]', 'class'), /\bactive\b/);
    await page.click('a[href="/notes/2"]');
    await page.waitForFunction(() => document.querySelector('h1').textContent === 'Shopping list');
    assert.equal(pathOf(page), '/notes/2');
    assert.equal(await sameDocument(page), 'yes', 'no document reload');
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus moved to the heading');
    assert.equal(await page.getAttribute('nav a[href="/notes"]', 'aria-current'), null);
    assert.equal(await page.getAttribute('nav a[href="/notes"]', 'class'), null);

    await page.goBack();
    await page.waitForFunction(() => document.querySelector('h1').textContent === 'Notes');
    assert.equal(pathOf(page), '/notes');
    await page.goForward();
    await page.waitForFunction(() => document.querySelector('h1').textContent === 'Shopping list');
    assert.equal(await sameDocument(page), 'yes', 'back and forward stay in the document');

    // A modified click is left to the browser: a new tab, and this page stays as it is.
    const popup = page.context().waitForEvent('page');
    await page.click('nav a[href="/notes"]', { modifiers: ['Control'] });
    await (await popup).close();
    assert.equal(pathOf(page), '/notes/2');
    await finish(page);
  });

  it('a back while disconnected is reported on reconnect; a link while disconnected loads normally', async () => {
    const { page } = await open('/notes');
    await page.click('a[href="/notes/1"]');
    await page.waitForFunction(() => document.querySelector('h1').textContent === 'Welcome to Tether notes');
    await page.evaluate(() => showcase.dropConnection({ offlineMs: 300 }));
    await page.waitForSelector('#tether-reconnect.tether-visible');
    await page.goBack();
    assert.equal(pathOf(page), '/notes');
    await page.waitForFunction(() => document.querySelector('h1').textContent === 'Notes');
    assert.equal(await sameDocument(page), 'yes');

    await page.evaluate(() => showcase.dropConnection({ offlineMs: 60000 }));
    await page.waitForSelector('#tether-reconnect.tether-visible');
    // The reconnect dialog covers the page, so the link is clicked from script.
    await Promise.all([page.waitForNavigation(), page.$eval('a[href="/notes/3"]', (a) => a.click())]);
    assert.equal(await sameDocument(page), undefined, 'a full load');
    assert.equal(await heading(page), 'Ideas');
    await page.close();
  });

  it('prerenders deep links with the right status: 200 for a note, 404 for an unknown id or path', async () => {
    const note = await fetch(`${suite.server.url}/notes/3`);
    assert.equal(note.status, 200);
    assert.match(await note.text(), /<h1>Ideas<\/h1>/);
    for (const path of ['/notes/999', '/notes/abc', '/no/such/page']) {
      const response = await fetch(`${suite.server.url}${path}`);
      assert.equal(response.status, 404, path);
      assert.match(await response.text(), /<h1>Not found<\/h1>/);
    }
    const root = await fetch(`${suite.server.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 303);
    assert.equal(root.headers.get('location'), '/notes');
    const { page, response } = await open('/notes/999');
    assert.equal(response.status(), 404);
    assert.equal(await heading(page), 'Not found');
    // Chromium logs the document's own 404 as a console error; nothing else may be logged.
    page.consoleMessages = page.consoleMessages.filter((m) => !/status of 404/.test(m.text));
    await finish(page);
  });

  it('sends anonymous users to the login page and back to the return URL after signing in', async () => {
    const b = await launchBrowser();
    try {
      const page = await b.newPage();
      await page.goto(`${suite.server.url}/notes/new`);
      assert.equal(pathOf(page), '/login?return=/notes/new');
      assert.match(await page.textContent('main'), /demo/);
      await page.fill('input[name="user"]', 'demo');
      await page.fill('input[name="password"]', 'wrong');
      await Promise.all([page.waitForNavigation(), page.click('#login button[type="submit"]')]);
      assert.match(await page.textContent('.validation-message'), /Wrong user name or password/);
      await page.fill('input[name="password"]', 'demo');
      await Promise.all([page.waitForNavigation(), page.click('#login button[type="submit"]')]);
      assert.equal(pathOf(page), '/notes/new');
      assert.equal(await page.textContent('#user'), 'demo');
      await finish(page);
    } finally {
      await b.close();
    }
  });

  it('validates the new-note form, then stores the note and shows it without a reload', async () => {
    const b = await launchBrowser();
    try {
      const signer = await b.newPage();
      await signIn(signer, 'demo', 'demo');
      await signer.close();
      const { page } = await open('/notes/new', b);
      assert.equal(await page.getAttribute('nav a[href="/notes/new"]', 'aria-current'), 'page');
      await page.click('#new-note button[type="submit"]');
      await page.waitForSelector('#title[aria-invalid="true"]');
      assert.match(await page.textContent('#title-error.validation-message'), /Give the note a title/);
      await page.fill('#title', 'x'.repeat(81));
      await page.waitForFunction(() => /80 characters/.test(document.querySelector('#title-error')?.textContent));
      // Typed fast while the server re-validates on every keystroke: no character is lost.
      await page.fill('#title', '');
      await page.focus('#title');
      await page.keyboard.type('Written in the browser', { delay: 0 });
      await page.waitForFunction(() => !document.querySelector('.validation-message'));
      assert.equal(await page.inputValue('#title'), 'Written in the browser');
      await page.fill('#body', 'Typed by Chromium.');
      await page.click('#new-note button[type="submit"]');
      await page.waitForFunction(() => document.querySelector('h1').textContent === 'Written in the browser');
      assert.match(pathOf(page), /^\/notes\/\d+$/);
      assert.equal(await sameDocument(page), 'yes');
      assert.equal(await page.textContent('.note-body'), 'Typed by Chromium.');
      await finish(page);
    } finally {
      await b.close();
    }
  });

  it('an open page notices that its session was revoked and goes to the login page', async () => {
    const b = await launchBrowser();
    try {
      const signer = await b.newPage();
      await signIn(signer, 'demo', 'demo');
      const { page } = await open('/notes/new', b);
      assert.equal(await page.textContent('#user'), 'demo');
      await signer.goto(`${suite.server.url}/logout`);
      // The history entry changes first, then the batch with the login page arrives.
      await page.waitForFunction(() => location.pathname === '/login' && document.querySelector('h1')?.textContent === 'Sign in');
      assert.equal(pathOf(page), '/login?return=/notes/new');
      assert.equal(await page.$('#user'), null, 'the nav bar no longer shows the user');
      assert.equal(await sameDocument(page), 'yes', 'the open page was redirected inside its circuit');
      await finish(page);
    } finally {
      await b.close();
    }
  });

  it('refuses a reconnect by another user: the page reloads as the new user', async () => {
    const b = await launchBrowser();
    try {
      const signer = await b.newPage();
      await signIn(signer, 'demo', 'demo');
      const { page } = await open('/notes', b);
      assert.equal(await page.textContent('#user'), 'demo');
      await signIn(signer, 'ann', 'ann');
      await page.evaluate(() => showcase.dropConnection({ offlineMs: 0 }));
      // Refused (the circuit belongs to demo): the built-in reconnect display reloads the page.
      await page.waitForFunction(() => document.querySelector('#user')?.textContent === 'ann' && !window.sameDocument);
      await page.close();
    } finally {
      await b.close();
    }
  });
});

describe('notes app error bar', () => {
  const suite = serverAndBrowser('notes', { env: { NOTES_REVALIDATE_MS: '200', NOTES_ON_REVOKED: 'end-circuit' } });

  it('shows a dismissible error bar with a reload link when the circuit ends', async () => {
    const signer = await suite.browser.newPage();
    await signer.goto(`${suite.server.url}/login`);
    await signer.fill('input[name="user"]', 'demo');
    await signer.fill('input[name="password"]', 'demo');
    await Promise.all([signer.waitForNavigation(), signer.click('#login button[type="submit"]')]);
    const page = await suite.browser.newPage();
    await page.goto(`${suite.server.url}/notes`);
    await page.waitForFunction(() => document.documentElement.dataset.circuit === 'open');
    await signer.goto(`${suite.server.url}/logout`);
    await page.waitForSelector('#tether-error-ui', { state: 'visible' });
    assert.match(await page.textContent('#tether-error-ui'), /Reload/);
    assert.equal(await page.getAttribute('#tether-error-ui a.reload', 'href'), '');
    await page.click('#tether-error-ui .dismiss');
    await page.waitForSelector('#tether-error-ui', { state: 'hidden' });
    await page.close();
  });
});
