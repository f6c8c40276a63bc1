import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dom, load, regionHtml } from './support.mjs';

const { DomPatcher, findRoots, rootDescriptors, rangeEnd } = await load('dom-patcher');
const fixtureDir = path.resolve(import.meta.dirname, '../../tests/fixtures/batches');
const fixtures = fs.readdirSync(fixtureDir).filter((f) => f.endsWith('.json')).sort();

function page(body) {
  const window = dom(body);
  const roots = findRoots(window.document);
  return { window, doc: window.document, roots, patcher: new DomPatcher(roots) };
}

/** Ids moved by ops 4 and 5 in a batch. */
function movedIds(batch) {
  return batch.filter((e) => e[0] === 4 || e[0] === 5).map((e) => e[1]);
}

describe('golden batch fixtures', () => {
  it('finds fixtures', () => assert.ok(fixtures.length > 0, `no fixtures in ${fixtureDir}`));
  for (const file of fixtures) {
    it(file, () => {
      const fixture = JSON.parse(fs.readFileSync(path.join(fixtureDir, file), 'utf8'));
      assert.equal(fixture.batches.length, fixture.html.length, 'one html per batch');
      const { roots, patcher } = page('<!--t:r:fixture--><!--/t-->');
      assert.deepEqual(rootDescriptors(roots), ['fixture']);
      fixture.batches.forEach((batch, i) => {
        const id = i + 1;
        const moved = new Map(movedIds(batch).map((id) => [id, patcher.node(id)]));
        for (const [id, node] of moved) assert.ok(node, `batch ${id} moves node ${id}, which is not on the page`);
        const outcome = patcher.receive(id, batch);
        assert.deepEqual(outcome, { ack: true, applied: true, error: null }, `batch ${id} of ${file}`);
        const start = roots[0];
        assert.equal(regionHtml(start, rangeEnd(start)), fixture.html[i], `html after batch ${id} of ${file}`);
        for (const [id, node] of moved) {
          assert.equal(patcher.node(id), node, `node ${id} keeps its identity after batch ${id}`);
          assert.ok(node.isConnected, `moved node ${id} is on the page`);
        }
      });
    });
  }
});

const ATTACH = [[11, 0, '<p>a</p><input value="x">', 1]];

describe('batch ordering and acknowledgement', () => {
  it('acknowledges an old batch again without applying it', () => {
    const { patcher } = page('<!--t:r:d--><!--/t-->');
    assert.deepEqual(patcher.receive(1, ATTACH), { ack: true, applied: true, error: null });
    assert.deepEqual(patcher.receive(1, ATTACH), { ack: true, applied: false, error: null });
    assert.equal(patcher.lastBatchId, 1);
  });

  it('neither applies nor acknowledges a batch past the next id', () => {
    const { patcher, doc } = page('<!--t:r:d--><!--/t-->');
    assert.deepEqual(patcher.receive(2, ATTACH), { ack: false, applied: false, error: null });
    assert.equal(patcher.lastBatchId, 0);
    assert.equal(doc.querySelector('p'), null);
  });

  it('reports an apply error and moves on to the next id', () => {
    const { patcher } = page('<!--t:r:d--><!--/t-->');
    patcher.receive(1, ATTACH);
    const outcome = patcher.receive(2, [[8, 99, 'x']]);
    assert.deepEqual(outcome, { ack: true, applied: true, error: 'node 99 is not on the page' });
    assert.equal(patcher.receive(3, [[42]]).error, 'unknown edit opcode 42');
    assert.equal(patcher.lastBatchId, 3);
  });
});

describe('attaching roots', () => {
  it('keeps equal prerendered content node for node and numbers it', () => {
    const { doc, patcher } = page('<!--t:r:a--><p>a</p><input value="x"><!--/t-->');
    const p = doc.querySelector('p');
    patcher.receive(1, ATTACH);
    assert.equal(doc.querySelector('p'), p, 'the prerendered <p> is kept');
    assert.equal(patcher.node(2), p);
    assert.equal(patcher.node(3).data, 'a');
    assert.equal(patcher.node(4), doc.querySelector('input'));
    assert.equal(patcher.node(5).data, '/t');
  });

  it('replaces different prerendered content', () => {
    const { doc, patcher } = page('<!--t:r:a--><p>stale</p><!--/t-->');
    const stale = doc.querySelector('p');
    patcher.receive(1, ATTACH);
    assert.notEqual(doc.querySelector('p'), stale);
    assert.equal(doc.querySelector('p').textContent, 'a');
  });

  it('numbers several roots by their index', () => {
    const { doc, patcher } = page('<!--t:r:one--><!--/t--><div><!--t:r:two--><!--/t--></div>');
    patcher.receive(1, [[11, 1, '<b>2</b>', 1], [11, 0, '<i>1</i>', 10]]);
    assert.equal(doc.body.innerHTML, '<!--t:r:one--><i>1</i><!--/t--><div><!--t:r:two--><b>2</b><!--/t--></div>');
    assert.equal(patcher.node(2).tagName, 'B');
    assert.equal(patcher.node(11).tagName, 'I');
  });

  it('reports a root index the page does not have', () => {
    const { patcher } = page('<!--t:r:a--><!--/t-->');
    assert.match(patcher.receive(1, [[11, 3, '', 1]]).error, /no root region 3/);
  });
});

describe('edits', () => {
  it('forgets every id inside a removed range', () => {
    const { patcher } = page('<!--t:r:a--><!--/t-->');
    patcher.receive(1, [[11, 0, '<!--t:c--><p>x</p><!--/t-->', 1]]);
    assert.equal(patcher.node(3).tagName, 'P');
    patcher.receive(2, [[3, 2]]);
    for (const id of [2, 3, 4, 5]) assert.equal(patcher.node(id), undefined, `id ${id} is forgotten`);
  });

  it('parses children of an SVG element as SVG', () => {
    const { doc, patcher } = page('<!--t:r:a--><!--/t-->');
    patcher.receive(1, [[11, 0, '<svg></svg>', 1], [2, 2, '<circle r="1"></circle>', 4]]);
    assert.equal(doc.querySelector('circle').namespaceURI, 'http://www.w3.org/2000/svg');
    assert.equal(patcher.node(4).tagName, 'circle');
  });

  it('sets form values as properties and keeps the caret of a focused field', () => {
    const { doc, patcher } = page('<!--t:r:a--><!--/t-->');
    patcher.receive(1, [[11, 0, '<input value="hello"><input type="checkbox"><select><option>a</option><option>b</option></select>', 1]]);
    const input = doc.querySelector('input');
    input.focus();
    input.setSelectionRange(2, 3);
    assert.equal(patcher.receive(2, [[9, 2, 'value', 'hello']]).error, null);
    assert.deepEqual([input.selectionStart, input.selectionEnd], [2, 3], 'an equal value leaves the selection alone');
    patcher.receive(3, [[9, 2, 'value', 'hello world'], [9, 3, 'checked', true], [9, 7, 'selected', true]]);
    assert.equal(input.value, 'hello world');
    assert.equal(input.getAttribute('value'), 'hello', 'the property changes, not the attribute');
    assert.deepEqual([input.selectionStart, input.selectionEnd], [2, 3], 'the caret stays where the user had it');
    assert.equal(doc.querySelector('[type=checkbox]').checked, true);
    assert.equal(doc.querySelector('select').value, 'b');
    assert.match(patcher.receive(4, [[9, 2, 'innerHTML', 'x']]).error, /unsupported property 'innerHTML'/);
  });

  it('keeps the caret after the text it was before when the server edits in front of it', () => {
    const { doc, patcher } = page('<!--t:r:a--><!--/t-->');
    patcher.receive(1, [[11, 0, '<input value="ab1cd">', 1]]);
    const input = doc.querySelector('input');
    input.focus();
    input.setSelectionRange(3, 3);
    patcher.receive(2, [[9, 2, 'value', 'abcd']]);
    assert.deepEqual([input.selectionStart, input.selectionEnd], [2, 2], 'still before "cd"');
    patcher.receive(3, [[9, 2, 'value', 'XY']]);
    assert.deepEqual([input.selectionStart, input.selectionEnd], [2, 2], 'an unrelated text: clamped');
  });
});

describe('focus', () => {
  it('keeps focus and caret in a field whose keyed row moves', () => {
    const { doc, patcher } = page('<!--t:r:a--><!--/t-->');
    patcher.receive(1, [[11, 0, '<ul><li><input value="first"></li><li><input value="second"></li></ul>', 1]]);
    // start 1, ul 2, li 3, input 4, li 5, input 6
    const input = doc.querySelectorAll('input')[1];
    input.focus();
    input.setSelectionRange(3, 3);
    assert.deepEqual(patcher.receive(2, [[4, 5, 3]]).error, null);
    assert.equal(doc.querySelector('input'), input, 'the row moved first, same element');
    assert.equal(doc.activeElement, input);
    assert.deepEqual([input.selectionStart, input.selectionEnd], [3, 3]);
  });
});
