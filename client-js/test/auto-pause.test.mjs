import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { load } from './support.mjs';

const { pauseWhenHidden } = await load('auto-pause');

/** A document whose visibility the test sets, and a circuit that records calls. */
function setup({ pauseAnswer = true } = {}) {
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  const set = (state) => {
    doc.visibilityState = state;
    doc.dispatchEvent(new Event('visibilitychange'));
  };
  const calls = [];
  let finishPause;
  const circuit = {
    pause: () => {
      calls.push('pause');
      return new Promise((resolve) => (finishPause = () => resolve(pauseAnswer)));
    },
    resume: async () => {
      calls.push('resume');
      return true;
    },
  };
  return { doc, set, calls, circuit, finishPause: () => finishPause() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('pause when hidden', () => {
  it('pauses after the page stayed hidden long enough and resumes when it is shown', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { doc, set, calls, circuit, finishPause } = setup();
      pauseWhenHidden(doc, 1000, circuit);
      set('hidden');
      mock.timers.tick(999);
      assert.deepEqual(calls, []);
      mock.timers.tick(1);
      assert.deepEqual(calls, ['pause']);
      finishPause();
      await settle();
      set('visible');
      await settle();
      assert.deepEqual(calls, ['pause', 'resume']);
    } finally {
      mock.timers.reset();
    }
  });

  it('does nothing when the page comes back in time, and stops watching when stopped', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { doc, set, calls, circuit } = setup();
      const stop = pauseWhenHidden(doc, 1000, circuit);
      set('hidden');
      mock.timers.tick(500);
      set('visible');
      mock.timers.tick(5000);
      stop();
      set('hidden');
      mock.timers.tick(5000);
      await settle();
      assert.deepEqual(calls, []);
    } finally {
      mock.timers.reset();
    }
  });

  it('resumes a pause that finished after the page was shown again, and not a refused one', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { doc, set, calls, circuit, finishPause } = setup();
      pauseWhenHidden(doc, 10, circuit);
      set('hidden');
      mock.timers.tick(10);
      set('visible');
      finishPause();
      await settle();
      assert.deepEqual(calls, ['pause', 'resume']);

      const refused = setup({ pauseAnswer: false });
      pauseWhenHidden(refused.doc, 10, refused.circuit);
      refused.set('hidden');
      mock.timers.tick(10);
      refused.finishPause();
      await settle();
      refused.set('visible');
      await settle();
      assert.deepEqual(refused.calls, ['pause']);
    } finally {
      mock.timers.reset();
    }
  });
});
