import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dom, installGlobals, load } from './support.mjs';

const { defaultRetryInterval, retryDelay, waitForRetry, FIRST_RETRY_CAP_MS } = await load('retry');

describe('retry intervals', () => {
  it('default backoff: 0 ms for 10 attempts, 5 s to attempt 20, then 30 s, null at maxRetries', () => {
    const delays = Array.from({ length: 31 }, (_, i) => defaultRetryInterval(i, 30));
    assert.deepEqual(delays.slice(0, 10), Array(10).fill(0));
    assert.deepEqual(delays.slice(10, 20), Array(10).fill(5000));
    assert.deepEqual(delays.slice(20, 30), Array(10).fill(30000));
    assert.equal(delays[30], null);
  });

  it('uses the default backoff and maxRetries when no interval is set', () => {
    const options = { maxRetries: 12, dialogId: 'x' };
    assert.equal(retryDelay(options, 0), 0);
    assert.equal(retryDelay(options, 11), 5000);
    assert.equal(retryDelay(options, 12), null);
  });

  it('caps a numeric interval at 3 s for the first attempt only and stops at maxRetries', () => {
    const options = { maxRetries: 3, retryIntervalMilliseconds: 10000, dialogId: 'x' };
    assert.equal(retryDelay(options, 0), FIRST_RETRY_CAP_MS);
    assert.equal(retryDelay(options, 1), 10000);
    assert.equal(retryDelay(options, 2), 10000);
    assert.equal(retryDelay(options, 3), null);
    assert.equal(retryDelay({ ...options, retryIntervalMilliseconds: 500 }, 0), 500);
  });

  it('gives an exact sequence with Array.prototype.at.bind, stopping after its end', () => {
    const options = { maxRetries: 30, retryIntervalMilliseconds: Array.prototype.at.bind([0, 1000, 2000]), dialogId: 'x' };
    assert.deepEqual([0, 1, 2, 3].map((n) => retryDelay(options, n)), [0, 1000, 2000, null]);
  });

  it('passes previousAttempts and maxRetries to a function and lets it decide when to stop', () => {
    const calls = [];
    const fn = (previous, max) => {
      calls.push([previous, max]);
      return previous >= max ? null : previous * 1000;
    };
    const options = { maxRetries: 2, retryIntervalMilliseconds: fn, dialogId: 'x' };
    assert.deepEqual([0, 1, 2].map((n) => retryDelay(options, n)), [0, 1000, null]);
    assert.deepEqual(calls, [[0, 2], [1, 2], [2, 2]]);
  });

  it('reports a function result that is not a delay and falls back to the default backoff', () => {
    const reports = [];
    const options = { maxRetries: 5, retryIntervalMilliseconds: () => 'soon', dialogId: 'x' };
    assert.equal(retryDelay(options, 12, (m) => reports.push(m)), 5000);
    assert.match(reports[0], /retryIntervalMilliseconds returned soon/);
  });
});

describe('waiting for a retry', () => {
  const window = dom();
  installGlobals(window);

  it('is cut short when the tab becomes visible again', async () => {
    Object.defineProperty(window.document, 'visibilityState', { value: 'hidden', configurable: true });
    const waited = waitForRetry(60000, new AbortController().signal);
    Object.defineProperty(window.document, 'visibilityState', { value: 'visible', configurable: true });
    window.document.dispatchEvent(new window.Event('visibilitychange'));
    await waited;
  });

  it('ends when its signal aborts', async () => {
    const controller = new AbortController();
    const waited = waitForRetry(60000, controller.signal);
    controller.abort();
    await waited;
  });

  it('counts down the seconds left', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const ticks = [];
    const waited = waitForRetry(3000, new AbortController().signal, (s) => ticks.push(s));
    t.mock.timers.tick(3000);
    await waited;
    assert.deepEqual(ticks, [2, 1]);
  });
});
