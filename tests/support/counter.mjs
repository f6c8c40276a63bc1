// The counter example (examples/counter) in a browser tab, as the persistence drills drive it: open it,
// mark the page and the count node so a reload or a replaced node shows, record reconnect states, count.
// Also captures the circuit secret from the tab's own hub traffic, for replay tests.

/** The reconnect modal the page gets, so its state classes can be checked. */
export const MODAL = '<div id="components-reconnect-modal"></div>';

/** In the page: records reconnect states, adds the modal, marks the page and the count node. */
function watch(modalHtml) {
  window.states = [];
  window.pageMark = 'same page';
  document.querySelector('#count').mark = 'same node';
  document.addEventListener('components-reconnect-state-changed', (e) => window.states.push({ ...e.detail, classes: e.target.className }));
  document.body.insertAdjacentHTML('beforeend', modalHtml);
}

/**
 * Opens the counter at `url` in a new tab of `browser`, waits for its circuit, and marks it. The returned
 * page has `secret()`: the circuit secret from the tab's last `StartCircuit` answer or reconnect call.
 */
export async function openCounter(browser, url) {
  const page = await browser.newPage();
  let secret;
  page.on('websocket', (ws) => {
    const read = ({ payload }) => {
      for (const frame of String(payload).split('\x1e')) {
        if (!frame) continue;
        let message;
        try { message = JSON.parse(frame); } catch { continue; }
        if (message.type === 3 && typeof message.result === 'string' && message.result.length === 64) secret = message.result;
        if (message.type === 1 && (message.target === 'ConnectCircuit' || message.target === 'ResumeCircuit')) secret = message.arguments[0];
      }
    };
    ws.on('framereceived', read);
    ws.on('framesent', read);
  });
  await page.goto(url);
  await page.waitForFunction(() => window.Tether && document.querySelector('#count'));
  await page.evaluate(watch, MODAL);
  page.secret = () => {
    if (!secret) throw new Error('no circuit secret seen on the hub connection');
    return secret;
  };
  return page;
}

/** Clicks `#increment` until the count shows `target`. */
export async function countTo(page, target) {
  const start = Number(await page.textContent('#count'));
  for (let i = start; i < target; i++) await page.click('#increment');
  await page.waitForFunction((n) => document.querySelector('#count').textContent === String(n), target);
}

/** One more click, and the count shows `next`. */
export async function clickTo(page, next) {
  await page.click('#increment');
  await page.waitForFunction((n) => document.querySelector('#count').textContent === String(n), next);
}

/** [page mark, count node mark]: both survive when the tab continued in place. */
export const kept = (page) => page.evaluate(() => [window.pageMark, document.querySelector('#count')?.mark]);

/** Whether the tab ever showed `state` (for example 'rejected'). */
export const showed = (page, state) => page.evaluate((s) => window.states.some((x) => x.state === s), state);

/** Waits until the tab shows `state`. */
export const waitForState = (page, state) => page.waitForFunction((s) => window.states.some((x) => x.state === s), state);

/** A server's log without colour codes. */
export const plainLog = (server) => server.output().replace(/\x1b\[[0-9;]*m/g, '');

/** Runs `move` (which cuts the tab's connection: a server stopped or killed, the network dropped) and
 * resolves once the tab has rejoined a server (its reconnect display hid again). A click before that would
 * not reach any server. */
export async function rejoinAfter(page, move) {
  const seen = await page.evaluate(() => window.states.length);
  await move();
  await page.waitForFunction((n) => window.states.slice(n).some((s) => s.state === 'hide'), seen);
}

/** Resolves once `server` has logged `pattern` `count` times (checked as its log grows), or fails after
 * `timeoutMs`. */
export function waitForLog(server, pattern, count = 1, timeoutMs = 30000) {
  const all = new RegExp(pattern.source, 'g');
  const seen = () => (plainLog(server).match(all) ?? []).length >= count;
  if (seen()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!seen()) return;
      clearTimeout(timer);
      server.child.stderr.off('data', check);
      resolve();
    };
    const timer = setTimeout(() => {
      server.child.stderr.off('data', check);
      reject(new Error(`no ${count}× ${pattern} within ${timeoutMs} ms:\n${plainLog(server)}`));
    }, timeoutMs);
    // startServer's own listener was added first, so the log is current when `check` runs.
    server.child.stderr.on('data', check);
  });
}
