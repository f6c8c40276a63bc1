// The shared event fixtures (tests/fixtures/events, also read by the Rust tests): the browser sends exactly the
// recorded scroll and upload event arguments, and the upload module answers the server's calls with the recorded
// chunks and answers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dom, load } from './support.mjs';

const { EventDelegator } = await load('events');
const { install } = await load('upload/index');

const fixtureDir = path.resolve(import.meta.dirname, '../../tests/fixtures/events');
const fixture = (name) => JSON.parse(fs.readFileSync(path.join(fixtureDir, name), 'utf8'));
/** As the hub protocol carries it (an undefined property is left out). */
const onTheWire = (value) => JSON.parse(JSON.stringify(value));

describe('scroll fixtures', () => {
  const { cases } = fixture('scroll.json');
  it('finds cases', () => assert.ok(cases.length > 0));
  for (const { name, element, args } of cases) {
    it(name, () => {
      const rows = element.rows.map(() => '<p></p>').join('');
      const window = dom(`<div id="list" t-scroll="7"${element.measure ? ' t-measure' : ''}><div></div>${rows}<div></div></div>`);
      const sent = [];
      new EventDelegator(window.document, (...call) => sent.push(call)).attach();
      const list = window.document.querySelector('#list');
      for (const key of ['scrollTop', 'clientHeight', 'scrollHeight']) Object.defineProperty(list, key, { value: element[key] });
      [...list.querySelectorAll('p')].forEach((row, i) => Object.defineProperty(row, 'offsetHeight', { value: element.rows[i] }));
      list.dispatchEvent(new window.Event('scroll'));
      assert.equal(sent.length, 1);
      assert.equal(sent[0][1], 'scroll');
      assert.deepEqual(onTheWire(sent[0][2]), args);
    });
  }
});

describe('upload fixture', () => {
  const upload = fixture('upload.json');

  it('fires the recorded upload event and answers the recorded calls with the recorded chunks', async () => {
    const window = dom('<input id="f" type="file" t-upload="3">');
    const functions = new Map();
    const messages = [];
    const send = (target, argsJson) => messages.push([target, JSON.parse(argsJson)]);
    install(window.document, { registerFunction: (name, fn) => functions.set(name, fn), send });
    const sent = [];
    new EventDelegator(window.document, (...call) => sent.push(call)).attach();
    const input = window.document.querySelector('#f');
    // Node's File: jsdom's has no stream().
    const files = upload.files.map((f) => new File([f.content], f.name, { type: f.type }));
    Object.defineProperty(input, 'files', { value: files });
    input.dispatchEvent(new window.Event('change', { bubbles: true }));
    assert.equal(sent.length, 1);
    assert.equal(sent[0][1], 'upload');
    assert.deepEqual(onTheWire(sent[0][2]), upload.args);
    for (const call of upload.calls) {
      const fn = functions.get(call.function);
      assert.ok(fn, `the upload module registers ${call.function}`);
      messages.length = 0;
      assert.deepEqual((await fn(...call.args)) ?? null, call.answer, `${call.function}(${call.args})`);
      assert.deepEqual(messages, call.chunks.map((chunk) => ['UploadChunk', chunk]), `the chunks sent for ${call.function}(${call.args})`);
    }
  });
});
