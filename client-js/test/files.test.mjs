import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dom, load } from './support.mjs';

const { EventDelegator } = await load('events');
const { loadModules } = await load('modules');
const { toBase64, install } = await load('upload/index');

describe('scroll and upload events', () => {
  it('reports a bound element\'s scroll position, with measured rows under t-measure', () => {
    const window = dom('<div id="rows" t-scroll="4" t-measure><div></div><p></p><p></p><div></div></div>');
    const sent = [];
    new EventDelegator(window.document, (...call) => sent.push(call)).attach();
    const rows = window.document.querySelector('#rows');
    Object.defineProperty(rows, 'scrollTop', { value: 120 });
    for (const p of rows.querySelectorAll('p')) Object.defineProperty(p, 'offsetHeight', { value: 24 });
    rows.dispatchEvent(new window.Event('scroll'));
    assert.deepEqual(sent, [[4, 'scroll', { scrollTop: 120, clientHeight: 0, scrollHeight: 0, measured: [2, 48] }, false]]);
  });

  it('passes the upload module\'s file list through as the event arguments', () => {
    const window = dom('<input id="f" type="file" t-upload="9">');
    const sent = [];
    new EventDelegator(window.document, (...call) => sent.push(call)).attach();
    const files = [{ id: 1, name: 'a.txt', size: 3, type: 'text/plain' }];
    window.document.querySelector('#f').dispatchEvent(new window.CustomEvent('upload', { bubbles: true, detail: { files } }));
    assert.deepEqual(sent, [[9, 'upload', { files }, false]]);
  });
});

describe('the upload module', () => {
  it('is requested once, and only when the page has a t-upload element', () => {
    const window = dom('<p>no uploads here</p>');
    const doc = window.document;
    loadModules(doc, 'http://localhost:5000/_tether?x=1');
    assert.equal(doc.querySelectorAll('script').length, 0);
    doc.body.insertAdjacentHTML('beforeend', '<div t-upload="3"></div>');
    loadModules(doc, 'http://localhost:5000/_tether?x=1');
    loadModules(doc, 'http://localhost:5000/_tether');
    const scripts = [...doc.querySelectorAll('script')].map((s) => s.src);
    assert.deepEqual(scripts, ['http://localhost:5000/_tether/upload.js']);
  });

  it('encodes chunks as base64, large ones too', () => {
    assert.equal(toBase64(new Uint8Array([104, 105, 33])), 'aGkh');
    const big = new Uint8Array(100_000).map((_, i) => i % 256);
    assert.equal(toBase64(big), Buffer.from(big).toString('base64'));
  });

  it('holds chosen files, sends their bytes under the credit granted, and forgets a file when asked', async () => {
    const window = dom('<input id="f" type="file" t-upload="2">');
    const functions = new Map();
    const chunks = [];
    let connected = true;
    const send = (target, argsJson) => connected && chunks.push([target, ...JSON.parse(argsJson)]);
    install(window.document, { registerFunction: (name, fn) => functions.set(name, fn), send });
    const reported = [];
    window.document.addEventListener('upload', (e) => reported.push(e.detail));
    const input = window.document.querySelector('#f');
    // Node's File: jsdom's has no stream().
    const file = new File(['hello world'], 'h.txt', { type: 'text/plain' });
    Object.defineProperty(input, 'files', { value: [file] });
    input.dispatchEvent(new window.Event('change', { bubbles: true }));
    assert.deepEqual(reported, [{ files: [{ id: 1, name: 'h.txt', size: 11, type: 'text/plain' }] }]);
    const grant = functions.get('tether.upload.send');
    const b64 = (text) => Buffer.from(text).toString('base64');
    // Two grants at once (the second arriving first changes nothing): chunks in order up to the highest.
    const [late, early] = [grant(1, 4, 2), grant(1, 8, 3)];
    assert.deepEqual(await Promise.all([late, early]), [null, null]);
    let offset = 0;
    for (const [target, id, at, data] of chunks) {
      assert.deepEqual([target, id, at], ['UploadChunk', 1, offset], 'each chunk starts where the last ended');
      offset += Buffer.from(data, 'base64').length;
    }
    assert.equal(offset, 8, 'up to the highest grant, no further');
    assert.equal(chunks.map((c) => Buffer.from(c[3], 'base64').toString()).join(''), 'hello wo');
    await assert.rejects(grant(1, 50, 3), /bad grant up to 50 of 11 bytes/);
    // Sending the last byte lets go of the file.
    chunks.length = 0;
    assert.equal(await grant(1, 11, 16), null);
    assert.deepEqual(chunks, [['UploadChunk', 1, 8, b64('rld')]]);
    await assert.rejects(grant(1, 11, 16), /cancelled/);

    // The same file chosen again gets a new id; the server's cancel drops it.
    input.dispatchEvent(new window.Event('change', { bubbles: true }));
    assert.equal(reported[1].files[0].id, 2);
    functions.get('tether.upload.cancel')(2);
    await assert.rejects(grant(2, 5, 5), /cancelled/);

    // A grant that cannot be sent (no connection) is answered with the reason, and the file is let go.
    input.dispatchEvent(new window.Event('change', { bubbles: true }));
    connected = false;
    await assert.rejects(grant(3, 5, 5), /not connected/);
    connected = true;
    await assert.rejects(grant(3, 5, 5), /cancelled/);
  });
});
