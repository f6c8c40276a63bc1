// Redis for the Node suite: the shared server tests/run starts (TETHER_TEST_REDIS_URL), and private
// redis-server processes a test may kill and restart without disturbing the shared one.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { freePort } from './server.mjs';

/** The shared test Redis URL, or undefined when the suite did not set one up. */
export const sharedRedisUrl = process.env.TETHER_TEST_REDIS_URL || undefined;

/** Why Redis tests cannot run here, or false. */
export const redisSkip = sharedRedisUrl ? false : 'TETHER_TEST_REDIS_URL is not set (tests/run starts a redis-server and sets it)';


/** Starts redis-server on `port` (no persistence) and resolves once it accepts connections. */
async function launch(port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', os.tmpdir()], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server on ${port} not ready within 10 s:\n${log}`)), 10000);
    child.stdout.on('data', (d) => {
      log += d;
      if (log.includes('Ready to accept connections')) { clearTimeout(timer); resolve(); }
    });
    child.stderr.on('data', (d) => { log += d; });
    child.once('error', (e) => { clearTimeout(timer); reject(new Error(`cannot start redis-server: ${e.message}`)); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}) before it was ready:\n${log}`)); });
  });
  return child;
}

/** A private redis-server on a free port: { url, kill(), restart(), stop() }. */
export async function startPrivateRedis() {
  const port = await freePort();
  let child = await launch(port);
  const kill = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    child = null;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    /** SIGKILL: every client connection is cut at once. */
    kill,
    /** Starts it again on the same port. */
    async restart() { await kill(); child = await launch(port); },
    stop: kill,
  };
}

/** Encodes one command in RESP (arguments as strings or Buffers). */
function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one RESP reply at `at` in `buf`: [value, next] or undefined when incomplete. Bulk strings stay Buffers. */
function parseReply(buf, at = 0) {
  const end = buf.indexOf('\r\n', at);
  if (end < 0) return undefined;
  const line = buf.toString('latin1', at + 1, end);
  switch (String.fromCharCode(buf[at])) {
    case '+': return [line, end + 2];
    case '-': return [new Error(`redis: ${line}`), end + 2];
    case ':': return [Number(line), end + 2];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, end + 2];
      if (buf.length < end + 2 + length + 2) return undefined;
      return [buf.subarray(end + 2, end + 2 + length), end + 2 + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, end + 2];
      const items = [];
      let next = end + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (!item) return undefined;
        items.push(item[0]);
        next = item[1];
      }
      return [items, next];
    }
    default: throw new Error(`unexpected RESP reply type ${buf[at]}`);
  }
}

/** Sends one command to the Redis at `url` on a fresh connection and resolves to its reply (an error
 * reply rejects). A few calls per test, so no client library. */
export async function redisCommand(url, ...args) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  try {
    await once(socket, 'connect');
    socket.write(encodeCommand(args));
    let buf = Buffer.alloc(0);
    for await (const chunk of socket) {
      buf = Buffer.concat([buf, chunk]);
      const reply = parseReply(buf);
      if (reply) {
        if (reply[0] instanceof Error) throw reply[0];
        return reply[0];
      }
    }
    throw new Error('redis closed the connection before replying');
  } finally {
    socket.destroy();
  }
}

/** The Redis key of a persisted circuit, from the circuit's secret (its first 16 bytes are the public id). */
export function circuitKey(secret, prefix = 'tether:circuit:') {
  return prefix + Buffer.from(secret, 'base64url').subarray(0, 16).toString('base64url');
}
