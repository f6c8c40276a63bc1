import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dom, load } from './support.mjs';

// The router's link interception (which clicks become in-circuit navigations) and the focus/scroll step after one.

const { interceptLinks, settle } = await load('navigation');

const LINKS = `
  <a id="outside" href="/app/x">outside the router</a>
  <div data-t-router="/app">
    <h1>Title</h1>
    <a id="inside" href="/app/notes/2?x=1#top"><span>inside</span></a>
    <a id="base" href="/app">base</a>
    <a id="other-app" href="/application">other app</a>
    <a id="external" href="https://example.com/app/x">external</a>
    <a id="blank" href="/app/a" target="_blank">new tab</a>
    <a id="self" href="/app/a" target="_self">self</a>
    <a id="download" href="/app/file" download>download</a>
    <a id="reload" href="/app/logout" data-t-reload>reload</a>
    <a id="fragment" href="#section">fragment</a>
    <p id="section">section</p>
  </div>`;

/** Clicks `selector` with `init` and returns the URL taken over (or null) and whether the default was prevented. */
function click(selector, init = {}) {
  const window = dom(LINKS);
  const taken = [];
  const stop = interceptLinks(window.document, (url) => taken.push(url.href));
  let prevented;
  // After the interceptor (it listens on the document): note its decision, then keep jsdom from loading pages.
  window.addEventListener('click', (event) => {
    prevented = event.defaultPrevented;
    event.preventDefault();
  });
  window.document.querySelector(selector).dispatchEvent(new window.MouseEvent('click', { bubbles: true, cancelable: true, button: 0, ...init }));
  stop();
  return { url: taken[0] ?? null, prevented };
}

describe('link interception', () => {
  it('takes plain clicks on same-origin links inside the router region under its base', () => {
    assert.deepEqual(click('#inside span'), { url: 'http://localhost:5000/app/notes/2?x=1#top', prevented: true });
    assert.equal(click('#base').url, 'http://localhost:5000/app');
    assert.equal(click('#self').url, 'http://localhost:5000/app/a');
  });

  it('leaves everything else to the browser', () => {
    for (const selector of ['#outside', '#other-app', '#external', '#blank', '#download', '#reload', '#fragment']) {
      assert.deepEqual(click(selector), { url: null, prevented: false }, selector);
    }
    for (const init of [{ ctrlKey: true }, { shiftKey: true }, { altKey: true }, { metaKey: true }, { button: 1 }]) {
      assert.deepEqual(click('#inside', init), { url: null, prevented: false }, JSON.stringify(init));
    }
  });

  it('stops listening when asked', () => {
    const window = dom(LINKS);
    const taken = [];
    interceptLinks(window.document, (url) => taken.push(url))();
    window.addEventListener('click', (event) => event.preventDefault());
    window.document.querySelector('#inside').dispatchEvent(new window.MouseEvent('click', { bubbles: true, cancelable: true }));
    assert.equal(taken.length, 0);
  });
});

describe('settling after a navigation', () => {
  it('focuses the heading (made focusable) and scrolls to the fragment or the top', () => {
    const window = dom(LINKS);
    const doc = window.document;
    let scrolledTo = null;
    let intoView = null;
    window.scrollTo = (x, y) => { scrolledTo = [x, y]; };
    window.HTMLElement.prototype.scrollIntoView = function () { intoView = this.id; };
    settle(doc, '');
    assert.equal(doc.activeElement.tagName, 'H1');
    assert.equal(doc.querySelector('h1').getAttribute('tabindex'), '-1');
    assert.deepEqual(scrolledTo, [0, 0]);
    settle(doc, '#section');
    assert.equal(intoView, 'section');
  });

  it('prefers an element marked data-focus-on-navigate', () => {
    const window = dom('<div data-t-router=""><h1>Title</h1><input id="first" data-focus-on-navigate></div>');
    window.scrollTo = () => {};
    settle(window.document, '');
    assert.equal(window.document.activeElement.id, 'first');
  });
});
