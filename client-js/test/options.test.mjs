import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { load } from './support.mjs';

const { normalizeOptions, DEFAULT_MAX_RETRIES } = await load('options');
const BASE = 'http://localhost:5000/app/page';

function normalize(input) {
  const errors = [];
  const warnings = [];
  const options = normalizeOptions(input, BASE, (m) => errors.push(m), (m) => warnings.push(m));
  return { options, errors, warnings };
}

describe('start options', () => {
  it('has the documented defaults', () => {
    const { options, errors, warnings } = normalize(undefined);
    assert.deepEqual(options.reconnectionOptions, { maxRetries: DEFAULT_MAX_RETRIES, dialogId: 'components-reconnect-modal' });
    assert.equal(options.reconnectionOptions.maxRetries, 30);
    assert.deepEqual(options.hub, { url: 'http://localhost:5000/_tether', serverTimeoutMs: 30000, keepAliveMs: 15000, handshakeTimeoutMs: 15000 });
    assert.equal(options.logLevel, 3);
    assert.deepEqual([errors, warnings], [[], []]);
  });

  it('accepts options at the top level and under circuit, the nested ones winning', () => {
    const top = normalize({ reconnectionOptions: { maxRetries: 3, retryIntervalMilliseconds: 2000 } }).options;
    assert.equal(top.reconnectionOptions.maxRetries, 3);
    assert.equal(top.reconnectionOptions.retryIntervalMilliseconds, 2000);
    const nested = normalize({ logLevel: 'error', circuit: { reconnectionOptions: { maxRetries: 8 }, logLevel: 'debug' } }).options;
    assert.equal(nested.reconnectionOptions.maxRetries, 8);
    assert.equal(nested.logLevel, 1);
  });

  it('keeps a retry interval function as given', () => {
    const fn = Array.prototype.at.bind([0, 1000]);
    assert.equal(normalize({ circuit: { reconnectionOptions: { retryIntervalMilliseconds: fn } } }).options.reconnectionOptions.retryIntervalMilliseconds, fn);
  });

  it('names each bad option in a console error and keeps the default', () => {
    const { options, errors } = normalize({
      reconnectionOptions: { maxRetries: -1, retryIntervalMilliseconds: 'fast', dialogId: 7 },
      logLevel: 'loud',
      circuitHandlers: [{ onCircuitOpened: 'yes' }],
      configureSignalR: 'not a function',
    });
    assert.equal(options.reconnectionOptions.maxRetries, 30);
    assert.equal(options.reconnectionOptions.retryIntervalMilliseconds, undefined);
    assert.equal(options.reconnectionOptions.dialogId, 'components-reconnect-modal');
    assert.equal(options.logLevel, 3);
    assert.deepEqual(options.circuitHandlers, []);
    for (const name of ['reconnectionOptions.maxRetries', 'reconnectionOptions.retryIntervalMilliseconds', 'reconnectionOptions.dialogId', 'logLevel', 'circuitHandlers[0]', 'configureSignalR']) {
      assert.ok(errors.some((e) => e.startsWith(name)), `no error naming ${name} in ${JSON.stringify(errors)}`);
    }
  });

  it('requires both reconnectionHandler callbacks', () => {
    const { options, errors } = normalize({ reconnectionHandler: { onConnectionDown() {} } });
    assert.equal(options.reconnectionHandler, undefined);
    assert.match(errors[0], /^reconnectionHandler must be an object with both onConnectionDown and onConnectionUp functions \(the built-in reconnection UI is used instead\); got an object/);
    const handler = { onConnectionDown() {}, onConnectionUp() {} };
    assert.equal(normalize({ circuit: { reconnectionHandler: handler } }).options.reconnectionHandler, handler);
  });

  it('accepts circuitHandlers as a list or a single object', () => {
    const h = { onCircuitOpened() {} };
    assert.deepEqual(normalize({ circuitHandlers: [h] }).options.circuitHandlers, [h]);
    assert.deepEqual(normalize({ circuitHandlers: h }).options.circuitHandlers, [h]);
  });

  it('runs configureSignalR with a chaining builder', () => {
    let returned;
    const { options, errors } = normalize({
      configureSignalR: (builder) => {
        returned = builder.withUrl('/signalr').withServerTimeout(60000).withKeepAliveInterval(20000).configureLogging('trace');
      },
    });
    assert.ok(returned, 'the builder chains');
    assert.deepEqual(options.hub, { url: 'http://localhost:5000/signalr', serverTimeoutMs: 60000, keepAliveMs: 20000, handshakeTimeoutMs: 15000 });
    assert.equal(options.logLevel, 0);
    assert.deepEqual(errors, []);
  });

  it('reports bad builder values and a throwing configureSignalR', () => {
    const { options, errors } = normalize({ configureSignalR: (b) => b.withServerTimeout(-5).withUrl('') });
    assert.equal(options.hub.serverTimeoutMs, 30000);
    assert.match(errors[0], /withServerTimeout\(ms\) must be a positive number; got -5/);
    assert.match(errors[1], /withUrl\(url\) must be a non-empty string/);
    assert.match(normalize({ configureSignalR: () => { throw new Error('boom'); } }).errors[0], /configureSignalR threw: boom/);
  });

  it('warns when the server timeout is under twice the keep-alive interval', () => {
    const { warnings } = normalize({ configureSignalR: (b) => b.withServerTimeout(20000) });
    assert.match(warnings.join('\n'), /server timeout \(20000 ms\) is under twice the keep-alive interval \(15000 ms\)/);
  });

  it('uses the hub next to the boot script when given, and resolves relative URLs against the base URI', () => {
    const errors = [];
    assert.equal(normalizeOptions({}, BASE, (m) => errors.push(m), () => {}, 'http://cdn.example/hub').hub.url, 'http://cdn.example/hub');
    assert.equal(normalizeOptions({ configureSignalR: (b) => b.withUrl('hub') }, BASE, (m) => errors.push(m)).hub.url, 'http://localhost:5000/app/hub');
    assert.deepEqual(errors, []);
  });

  it('warns about unknown options', () => {
    assert.match(normalize({ reconnectOptions: {} }).warnings[0], /unknown start option 'reconnectOptions' is ignored/);
  });

  it('takes pauseWhenHiddenMs as a positive number of milliseconds, off by default', () => {
    assert.equal(normalize({}).options.pauseWhenHiddenMs, undefined);
    assert.equal(normalize({ circuit: { pauseWhenHiddenMs: 30000 } }).options.pauseWhenHiddenMs, 30000);
    for (const bad of [0, -1, 'soon']) {
      const { options, errors } = normalize({ pauseWhenHiddenMs: bad });
      assert.equal(options.pauseWhenHiddenMs, undefined);
      assert.match(errors[0], /pauseWhenHiddenMs must be a positive number of milliseconds/);
    }
  });
});
