import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dom, load } from './support.mjs';

const { EventDelegator, parseBinding } = await load('events');

function setup(body) {
  const window = dom(body);
  const sent = [];
  const delegator = new EventDelegator(window.document, (handlerId, name, args) => sent.push([handlerId, name, args]));
  delegator.attach();
  return { window, doc: window.document, sent, delegator };
}

describe('event bindings', () => {
  it('parses ID and ID:FLAGS', () => {
    assert.deepEqual(parseBinding('12'), { handlerId: 12, prevent: false, stop: false });
    assert.deepEqual(parseBinding('7:ps'), { handlerId: 7, prevent: true, stop: true });
    assert.deepEqual(parseBinding('7:s'), { handlerId: 7, prevent: false, stop: true });
    assert.equal(parseBinding('x'), undefined);
    assert.equal(parseBinding(null), undefined);
  });
});

describe('event delegation', () => {
  it('reports a click to every bound ancestor, innermost first', () => {
    const { doc, sent, window } = setup('<div t-click="1"><button t-click="2"><span>go</span></button></div>');
    const click = new window.MouseEvent('click', { bubbles: true, cancelable: true, clientX: 5, button: 0 });
    doc.querySelector('span').dispatchEvent(click);
    assert.deepEqual(sent.map(([id, name]) => [id, name]), [[2, 'click'], [1, 'click']]);
    assert.equal(sent[0][2].clientX, 5);
    assert.equal(click.defaultPrevented, false);
  });

  it('honours the preventDefault and stopPropagation flags', () => {
    const { doc, sent, window } = setup('<div t-click="1"><a href="#x" t-click="2:ps">go</a></div>');
    const click = new window.MouseEvent('click', { bubbles: true, cancelable: true });
    doc.querySelector('a').dispatchEvent(click);
    assert.deepEqual(sent.map(([id]) => id), [2]);
    assert.equal(click.defaultPrevented, true);
  });

  it('reports field values, checkbox state, multiple selections and form fields', () => {
    const { doc, sent, window } = setup(`
      <input id="t" t-input="1"><input id="c" type="checkbox" t-change="2">
      <select id="m" multiple t-change="3"><option selected>a</option><option>b</option><option selected>c</option></select>
      <form t-submit="4"><input name="n" value="v"><input type="checkbox" name="k" value="1" checked><input type="checkbox" name="k" value="2" checked></form>`);
    const text = doc.getElementById('t');
    text.value = 'typed';
    text.dispatchEvent(new window.Event('input', { bubbles: true }));
    doc.getElementById('c').checked = true;
    doc.getElementById('c').dispatchEvent(new window.Event('change', { bubbles: true }));
    doc.getElementById('m').dispatchEvent(new window.Event('change', { bubbles: true }));
    const submit = new window.Event('submit', { bubbles: true, cancelable: true });
    doc.querySelector('form').dispatchEvent(submit);
    assert.deepEqual(sent, [
      [1, 'input', { value: 'typed' }],
      [2, 'change', { value: 'on', checked: true }],
      [3, 'change', { value: 'a', values: ['a', 'c'] }],
      [4, 'submit', { fields: { n: 'v', k: ['1', '2'] } }],
    ]);
    assert.equal(submit.defaultPrevented, true, 'a bound submit never unloads the page');
  });

  it('reports focus and blur, which do not bubble, on the bound element only', () => {
    const { doc, sent } = setup('<div t-focus="1"><input t-focus="2" t-blur="3"></div>');
    doc.querySelector('input').focus();
    doc.querySelector('input').blur();
    assert.deepEqual(sent, [[2, 'focus', {}], [3, 'blur', {}]]);
  });

  it('reports key events with their fields', () => {
    const { doc, sent, window } = setup('<input t-keydown="9">');
    doc.querySelector('input').dispatchEvent(new window.KeyboardEvent('keydown', { bubbles: true, key: 'Enter', code: 'Enter', shiftKey: true }));
    assert.deepEqual(sent, [[9, 'keydown', { key: 'Enter', code: 'Enter', repeat: false, location: 0, altKey: false, ctrlKey: false, shiftKey: true, metaKey: false }]]);
  });

  it('debounces input and flushes it before a change', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { doc, sent, window } = setup('<input t-input="1" t-change="2" t-debounce="300">');
    const input = doc.querySelector('input');
    for (const v of ['a', 'ab', 'abc']) {
      input.value = v;
      input.dispatchEvent(new window.Event('input', { bubbles: true }));
      t.mock.timers.tick(100);
    }
    assert.deepEqual(sent, []);
    t.mock.timers.tick(300);
    assert.deepEqual(sent, [[1, 'input', { value: 'abc' }]]);
    input.value = 'abcd';
    input.dispatchEvent(new window.Event('input', { bubbles: true }));
    input.dispatchEvent(new window.Event('change', { bubbles: true }));
    assert.deepEqual(sent.slice(1), [[1, 'input', { value: 'abcd' }], [2, 'change', { value: 'abcd' }]]);
    t.mock.timers.tick(1000);
    assert.equal(sent.length, 3, 'a flushed input is not sent twice');
  });

  it('throttles input: the first at once, then at most one per period with the latest value', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { doc, sent, window } = setup('<input t-input="1" t-throttle="200">');
    const input = doc.querySelector('input');
    const type = (v) => {
      input.value = v;
      input.dispatchEvent(new window.Event('input', { bubbles: true }));
    };
    type('a');
    assert.deepEqual(sent.map((s) => s[2].value), ['a']);
    type('ab');
    t.mock.timers.tick(50);
    type('abc');
    assert.deepEqual(sent.map((s) => s[2].value), ['a']);
    t.mock.timers.tick(150);
    assert.deepEqual(sent.map((s) => s[2].value), ['a', 'abc']);
    t.mock.timers.tick(1000);
    assert.deepEqual(sent.map((s) => s[2].value), ['a', 'abc'], 'nothing more once the typing stopped');
    type('abcd');
    assert.deepEqual(sent.map((s) => s[2].value), ['a', 'abc', 'abcd'], 'a new window starts at once');
  });

  it('stops reporting after detach', () => {
    const { doc, sent, window, delegator } = setup('<button t-click="1">x</button>');
    delegator.detach();
    doc.querySelector('button').dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
    assert.deepEqual(sent, []);
  });
});
