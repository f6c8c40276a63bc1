// Forms against the real circuit hub (tests/pages, binary tether-test-pages): typing fast into a field the
// server re-renders keeps every character and the caret; a server that normalises the value wins; keyed rows
// reordered by the server keep their DOM nodes, focus and typed text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeClean as finish, openCircuit, serverAndBrowser } from '../support/browser.mjs';


describe('forms in Chromium', () => {
  const suite = serverAndBrowser('tether-test-pages');

  /** Opens `path` and waits until its circuit is connected (Tether.start() resolves then). */
  const open = (pagePath) => openCircuit(suite.browser, `${suite.server.url}${pagePath}`);

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
    assert.deepEqual(await fieldState(page), { value: 'abcdefg', start: 7, end: 7, focused: true });
    // Digits typed in the middle are removed by the server and the caret stays after the last kept letter.
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
    await page.keyboard.type('x9y8', { delay: 0 });
    await page.waitForFunction(() => document.querySelector('#upper').textContent === 'ABCDXYEFG');
    await page.waitForFunction(() => document.querySelector('#field').value === 'abcdxyefg');
    assert.deepEqual(await fieldState(page), { value: 'abcdxyefg', start: 6, end: 6, focused: true });
    // Typing goes on normally after the server's corrections.
    await page.keyboard.press('End');
    await page.keyboard.type('h9i', { delay: 0 });
    await page.waitForFunction(() => document.querySelector('#upper').textContent === 'ABCDXYEFGHI');
    await page.waitForFunction(() => document.querySelector('#field').value === 'abcdxyefghi');
    await finish(page);
  });

  it('keyed rows reordered by the server keep their DOM nodes, focus and typed text', async () => {
    const page = await open('/rows');
    const order = () => page.$$eval('#rows li', (items) => items.map((li) => li.dataset.id).join());
    assert.equal(await order(), '1,2,3,4,5');
    // Mark every row and input node, and type a different text into each input.
    await page.$$eval('#rows li', (items) => items.forEach((li) => { li.__mark = `row-${li.dataset.id}`; li.querySelector('input').__mark = `input-${li.dataset.id}`; }));
    for (const id of [1, 2, 3, 4, 5]) await page.fill(`#rows li[data-id="${id}"] input`, `text ${id}`);
    const intact = () =>
      page.$$eval('#rows li', (items) =>
        items.every((li) => li.__mark === `row-${li.dataset.id}` && li.querySelector('input').__mark === `input-${li.dataset.id}` && li.querySelector('input').value === `text ${li.dataset.id}`),
      );
    const focusedRow = () => page.evaluate(() => document.activeElement?.closest('li')?.dataset.id ?? null);

    // Row 3 moves up twice and down once from its own focused input (a t-keydown handler on the server).
    await page.focus('#rows li[data-id="3"] input');
    await page.keyboard.press('End');
    await page.keyboard.press('Control+ArrowUp');
    await page.waitForFunction(() => [...document.querySelectorAll('#rows li')].map((li) => li.dataset.id).join() === '1,3,2,4,5');
    await page.keyboard.press('Control+ArrowUp');
    await page.waitForFunction(() => [...document.querySelectorAll('#rows li')].map((li) => li.dataset.id).join() === '3,1,2,4,5');
    assert.equal(await focusedRow(), '3');
    await page.keyboard.press('Control+ArrowDown');
    await page.waitForFunction(() => [...document.querySelectorAll('#rows li')].map((li) => li.dataset.id).join() === '1,3,2,4,5');
    assert.equal(await focusedRow(), '3');
    assert.equal(await page.evaluate(() => document.activeElement.__mark), 'input-3');
    assert.ok(await intact(), 'rows and inputs are the same nodes with their text');

    // Typing continues in the focused input after the moves.
    await page.keyboard.type('!', { delay: 0 });
    assert.equal(await page.inputValue('#rows li[data-id="3"] input'), 'text 3!');
    await page.fill('#rows li[data-id="3"] input', 'text 3');

    // Whole-list reorders from buttons, with focus put back into row 4's input by the test.
    await page.click('#reverse');
    await page.waitForFunction(() => [...document.querySelectorAll('#rows li')].map((li) => li.dataset.id).join() === '5,4,2,3,1');
    assert.ok(await intact());
    await page.focus('#rows li[data-id="4"] input');
    // Rotating from a click keeps the input focused when the click does not take focus (mousedown prevented).
    await page.evaluate(() => document.querySelector('#rotate').addEventListener('mousedown', (e) => e.preventDefault()));
    await page.click('#rotate');
    await page.waitForFunction(() => [...document.querySelectorAll('#rows li')].map((li) => li.dataset.id).join() === '4,2,3,1,5');
    assert.equal(await page.evaluate(() => document.activeElement.__mark), 'input-4');
    await page.click('#rotate');
    await page.waitForFunction(() => [...document.querySelectorAll('#rows li')].map((li) => li.dataset.id).join() === '2,3,1,5,4');
    assert.equal(await page.evaluate(() => document.activeElement.__mark), 'input-4');
    assert.ok(await intact());
    assert.equal(await order(), '2,3,1,5,4');
    await finish(page);
  });
});
