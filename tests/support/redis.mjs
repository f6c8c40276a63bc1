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
