import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { load } from './support.mjs';

const { frame, invocationFrame, parseFrames, asHubMessage, checkHandshakeResponse, chunkText, fitsUtf8 } = await load('hub-protocol');
const { diagnose, diagnoseWebSocket } = await load('diagnostics');
const { withQuery } = await load('negotiate');

describe('JSON hub message framing', () => {
  it('ends each message with the record separator', () => {
    assert.equal(frame({ protocol: 'json', version: 1 }), '{"protocol":"json","version":1}\x1e');
    assert.equal(frame({ type: 1, target: 'DispatchEvent', arguments: [3, 'click', {}] }), '{"type":1,"target":"DispatchEvent","arguments":[3,"click",{}]}\x1e');
  });

  it('frames an invocation around arguments encoded once, as frame() would', () => {
    const args = [3, 'click', { x: 'é"' }];
    const json = JSON.stringify(args);
    assert.equal(invocationFrame('DispatchEvent', json), frame({ type: 1, target: 'DispatchEvent', arguments: args }));
    assert.equal(
      invocationFrame('Chunked', '["StartCircuit"]', '4', ['0']),
      frame({ type: 1, invocationId: '4', target: 'Chunked', arguments: ['StartCircuit'], streamIds: ['0'] }),
    );
  });

  it('splits a frame holding several messages, keeping an incomplete tail', () => {
    const { messages, rest } = parseFrames('{}\x1e{"type":6}\x1e{"type":1,"tar');
    assert.deepEqual(messages, [{}, { type: 6 }]);
    assert.equal(rest, '{"type":1,"tar');
    const next = parseFrames(`${rest}get":"T.Batch","arguments":[1,{}]}\x1e`);
    assert.deepEqual(next.messages, [{ type: 1, target: 'T.Batch', arguments: [1, {}] }]);
    assert.equal(next.rest, '');
  });

  it('throws on malformed JSON and on messages without a type', () => {
    assert.throws(() => parseFrames('{nope}\x1e'));
    assert.throws(() => asHubMessage({ target: 'x' }), /invalid hub message/);
    assert.deepEqual(asHubMessage({ type: 7, error: 'bye' }), { type: 7, error: 'bye' });
  });

  it('reads the handshake answer', () => {
    checkHandshakeResponse({});
    assert.throws(() => checkHandshakeResponse({ error: 'Requested protocol json is not available.' }), /server refused the handshake: Requested protocol json/);
    assert.throws(() => checkHandshakeResponse(5), /invalid handshake response/);
  });
});

describe('chunking for the message limit', () => {
  it('compares UTF-8 bytes with the limit', () => {
    assert.ok(fitsUtf8('abc', 3));
    assert.ok(!fitsUtf8('abcd', 3));
    assert.ok(fitsUtf8('é'.repeat(3), 6) && !fitsUtf8('é'.repeat(3), 5));
    assert.ok(fitsUtf8('€€', 6) && !fitsUtf8('€€', 5));
    assert.ok(fitsUtf8('😀', 4) && !fitsUtf8('😀', 3));
    // Long text is measured without a fresh encoding: ASCII at the limit fits, one byte over does not.
    assert.ok(fitsUtf8('a'.repeat(30000), 30000) && !fitsUtf8('a'.repeat(29999) + 'é', 30000));
    assert.ok(fitsUtf8('a'.repeat(10), 40000) && !fitsUtf8('a'.repeat(40001), 40000));
  });

  it('cuts text into pieces of at most the limit that join back to the text', () => {
    const text = 'x'.repeat(40001);
    const chunks = chunkText(text, 16000);
    assert.deepEqual(chunks.map((c) => c.length), [16000, 16000, 8001]);
    assert.equal(chunks.join(''), text);
  });

  it('never splits a surrogate pair', () => {
    const text = `${'a'.repeat(3)}😀b`;
    const chunks = chunkText(text, 4);
    assert.deepEqual(chunks, ['aaa', '😀b']);
  });
});

describe('diagnostics', () => {
  it('names the cause and the fix for each status', () => {
    const url = 'http://localhost/_tether/negotiate';
    assert.match(diagnose('negotiate', 404, url), /^404 from .*no hub at this path.*withUrl/);
    assert.match(diagnose('poll', 404, url), /does not know the connection id.*sticky sessions/);
    assert.match(diagnose('negotiate', 400, url), /WebSockets are not enabled/);
    assert.match(diagnose('negotiate', 403, url), /refused this page's origin.*allowed origins/);
    assert.match(diagnose('negotiate', 405, url), /CORS/);
    assert.match(diagnose('negotiate', 0, url), /^no response \(status 0\).*CORS/);
    assert.match(diagnose('negotiate', 307, url), /redirects.*https/);
    assert.match(diagnose('poll', 413, url), /too large/);
    assert.match(diagnoseWebSocket('ws://x', 1006), /close code 1006.*400.*403.*404/);
  });

  it('appends query parameters', () => {
    assert.equal(withQuery('http://h/hub', 'id', 'a b'), 'http://h/hub?id=a%20b');
    assert.equal(withQuery('http://h/hub?x=1', 'id', 't'), 'http://h/hub?x=1&id=t');
  });
});
