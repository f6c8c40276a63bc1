// Measures uploads and the virtualized list against the release notes server (docs/performance.md):
//
//   cargo build --release -p notes
//   TETHER_BIN_DIR=target/release node tests/perf/files.mjs
//
// Upload: a 50 MB file made in the page and dropped on the drop zone of /notes/1, timed from the drop to its
// link appearing (three runs); the server's peak resident memory during each upload above its resident memory
// just before it (the peak is reset through /proc/PID/clear_refs). Scrolling: /stress scrolled one screen at a
// time, with the size of each render batch the page receives and the round trip from setting scrollTop to the
// rows being in place. Ceiling: the same 50 MB sent by the page as base64 text frames of 16 KiB (what the upload
// puts on the wire) to a bare WebSocket sink in this process (the `ws` package of the official SignalR client),
// no protocol and no round trips, as fast as the socket takes them: what Chromium's text WebSocket can carry on
// this machine at this moment, for comparison with the upload figures.
import fs from 'node:fs';
import http from 'node:http';
import wsPackage from 'ws';
import { launchBrowser } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';

const MB = 1_000_000;
const SIZE = 50 * MB;

const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
const status = (pid) => fs.readFileSync(`/proc/${pid}/status`, 'utf8');
/** User + system CPU seconds of process `pid` so far. */
const cpu = (pid) => {
  const parts = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100;
};
const field = (pid, name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status(pid))[1]) * 1024;

const env = { NOTES_MAX_ATTACHMENT_BYTES: String(SIZE), RUST_LOG: 'warn' };
for (const name of ['NOTES_UPLOAD_CREDIT_BYTES', 'NOTES_UPLOAD_QUEUE_BYTES']) if (process.env[name]) env[name] = process.env[name];
const server = await startServer('notes', { env });
const pid = server.child.pid;
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/notes/1`);
  await page.waitForFunction(() => window.TetherUpload !== undefined && document.documentElement.dataset.circuit === 'open');
  await page.evaluate((size) => {
    window.bigFile = (n) => new File([new Uint8Array(size).map((_, i) => (i * 13 + n) % 256)], `big-${n}.bin`);
  }, SIZE);
  for (let run = 1; run <= Number(process.env.RUNS ?? 3); run++) {
    await page.evaluate((n) => (window.nextFile = window.bigFile(n)), run);
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const idle = field(pid, 'VmRSS');
    const cpuBefore = cpu(pid);
    const started = Date.now();
    await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(window.nextFile);
      document.querySelector('#dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    });
    await page.waitForSelector(`a.attachment:has-text("big-${run}.bin")`, { timeout: 120000 });
    const seconds = (Date.now() - started) / 1000;
    const peak = field(pid, 'VmHWM');
    const serverCpu = cpu(pid) - cpuBefore;
    console.log(`upload ${run}: ${SIZE / MB} MB in ${seconds.toFixed(2)} s = ${(SIZE / MB / seconds).toFixed(1)} MB/s (server CPU ${serverCpu.toFixed(2)} s); server RSS before ${kib(idle)}, peak ${kib(peak)}, peak above idle ${kib(peak - idle)}`);
  }
  await page.close();

  if (!process.env.SKIP_CEILING) {
    const sink = http.createServer((_, res) => res.end('<!doctype html><title>sink</title>'));
    const sockets = new wsPackage.Server({ server: sink });
    await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const bare = await browser.newPage();
    await bare.goto(`http://127.0.0.1:${sink.address().port}/`);
    for (let run = 1; run <= Number(process.env.RUNS ?? 3); run++) {
      let received = 0;
      const chunks = Math.ceil(SIZE / 16384);
      const expected = (chunks - 1) * Math.ceil(16384 / 3) * 4 + Math.ceil((SIZE - (chunks - 1) * 16384) / 3) * 4;
      const all = new Promise((resolve) => {
        sockets.once('connection', (socket) => socket.on('message', (data) => {
          received += data.length;
          if (received === expected) resolve();
        }));
      });
      const started = Date.now();
      await bare.evaluate(async ({ size, port }) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
        await new Promise((resolve) => (socket.onopen = resolve));
        const chunk = new Uint8Array(16 * 1024).map((_, i) => i % 256);
        for (let sent = 0; sent < size; sent += chunk.length) {
          const bytes = sent + chunk.length > size ? chunk.subarray(0, size - sent) : chunk;
          socket.send(bytes.toBase64());
          // Keep at most 1 MiB queued in the browser, as a sender that respects backpressure would.
          while (socket.bufferedAmount > 1 << 20) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }, { size: SIZE, port: sink.address().port });
      await all;
      const seconds = (Date.now() - started) / 1000;
      console.log(`ceiling ${run}: ${SIZE / MB} MB as base64 text frames in ${seconds.toFixed(2)} s = ${(SIZE / MB / seconds).toFixed(1)} MB/s`);
    }
    await bare.close();
    sockets.close();
    sink.close();
  }

  const list = process.env.SKIP_SCROLL ? null : await browser.newPage();
  if (list) {
  const batches = [];
  list.on('websocket', (ws) => ws.on('framereceived', (frame) => {
    const text = typeof frame.payload === 'string' ? frame.payload : frame.payload.toString();
    if (text.includes('"T.Batch"')) batches.push(Buffer.byteLength(text));
  }));
  await list.goto(`${server.url}/stress`);
  await list.waitForFunction(() => document.documentElement.dataset.circuit === 'open');
  const rounds = [];
  for (let step = 1; step <= 40; step++) {
    const before = batches.length;
    const started = performance.now();
    await list.evaluate((s) => { document.querySelector('#rows').scrollTop = s * 480; }, step);
    await list.waitForFunction((n) => document.querySelector('#rows .stress-row')?.textContent === `Row ${n}`, Math.max(1, step * 20 - 10 + 1));
    rounds.push(performance.now() - started);
    if (batches.length === before) console.log(`step ${step}: no batch`);
  }
  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
  const steps = batches.slice(1);
  console.log(`scroll one screen (40 steps): batch bytes median ${median(steps)}, max ${Math.max(...steps)}; round trip median ${median(rounds).toFixed(1)} ms, max ${Math.max(...rounds).toFixed(1)} ms; rows in the DOM ${await list.$$eval('#rows .stress-row', (r) => r.length)}`);
  await list.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
