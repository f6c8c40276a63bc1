// Figures for docs/security.md: the chat example under three hostile scenarios (issue 9).
//   cargo build --release -p chat && node tests/hostile/figures.mjs target/release/chat unknown|idle|abandoned
// unknown: 50,000 fire-and-forget calls to an unknown method; prints the bytes the server logged.
// idle: one long-polling client with a poll open and nothing to send; prints the server's CPU ticks (1/100 s)
//   over 20 s, starting after the 15 s keep-alive interval has passed.
// abandoned: a long poll dropped mid-poll, then 4,000 x 30 KB broadcasts from a WebSocket client; prints the
//   server's RSS after them and 20 s later, and its CPU ticks over the next 10 s.
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../package.json', import.meta.url));
const WebSocket = require('ws');

const [bin, scenario] = process.argv.slice(2);
const RS = '\u001e';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const child = spawn(bin, [], { env: { ...process.env, ADDR: '127.0.0.1:0', RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
let logBytes = 0;
let out = '';
child.stderr.on('data', (d) => { logBytes += d.length; });
const url = await new Promise((resolve) => child.stdout.on('data', (d) => {
  logBytes += d.length; out += d;
  const m = /listening on (http:\/\/[^\s]+)/.exec(out); if (m) resolve(m[1]);
}));
const base = `${url}/chathub`;
const { hostname, port } = new URL(url);
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]);
const ticks = () => { const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
async function cpuOver(ms) { const a = ticks(); await sleep(ms); return ticks() - a; }

async function longPolling() {
  const { connectionToken: id } = await (await fetch(`${base}/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
  await fetch(`${base}?id=${id}`);
  await fetch(`${base}?id=${id}`, { method: 'POST', body: `{"protocol":"json","version":1}${RS}` });
  await (await fetch(`${base}?id=${id}`)).text();
  return id;
}

async function wsClient() {
  const ws = new WebSocket(base.replace('http', 'ws'));
  await new Promise((r) => ws.on('open', r));
  ws.send(`{"protocol":"json","version":1}${RS}`);
  let received = 0; const waiters = [];
  ws.on('message', (d) => {
    for (const rec of String(d).split(RS).filter(Boolean)) {
      const m = JSON.parse(rec);
      if (m.type === 1 || m.type === 3) received++;
    }
    for (const w of waiters.splice(0)) w();
  });
  const until = async (n) => { while (received < n) await new Promise((r) => waiters.push(r)); };
  return { ws, until, get received() { return received; } };
}

const result = { scenario, bin, rssStartKb: rssKb() };
if (scenario === 'abandoned') {
  const id = await longPolling();
  const sock = net.connect(Number(port), hostname);
  sock.write(`GET /chathub?id=${id} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  await sleep(300);
  sock.destroy();
  const c = await wsClient();
  const text = 'b'.repeat(30 * 1024);
  for (let i = 0; i < 4000; i++) {
    c.ws.send(JSON.stringify({ type: 1, target: 'SendMessage', arguments: ['u', text] }) + RS);
    if (i % 100 === 99) await c.until(i + 1);
  }
  await c.until(4000);
  result.rssAfterBroadcastsKb = rssKb();
  await sleep(20000);
  result.rssAfter20sKb = rssKb();
  result.cpuTicksIn10sAfter = await cpuOver(10000);
  c.ws.close();
} else if (scenario === 'unknown') {
  const c = await wsClient();
  const call = JSON.stringify({ type: 1, target: 'NoSuchMethod', arguments: [] }) + RS;
  const frame = call.repeat(100);
  let sent = 0;
  for (let i = 0; i < 500; i++) { c.ws.send(frame); sent += frame.length; }
  c.ws.send(JSON.stringify({ type: 1, invocationId: 'sync', target: 'Echo', arguments: [1] }) + RS);
  await c.until(1);
  await sleep(500);
  result.bytesSent = sent;
  result.logBytes = logBytes;
  c.ws.close();
} else if (scenario === 'idle') {
  const id = await longPolling();
  const controller = new AbortController();
  // One poll open (the official client's idle state), then nothing either way.
  const poll = fetch(`${base}?id=${id}`, { signal: controller.signal }).catch(() => {});
  await sleep(17000);
  result.cpuTicksIn20sIdle = await cpuOver(20000);
  controller.abort();
  await poll;
}
child.kill('SIGKILL');
console.log(JSON.stringify(result));
process.exit(0);
