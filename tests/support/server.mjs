// Starts an example server binary on a free loopback port and stops it again.
// Every example prints `listening on http://HOST:PORT` once it accepts connections; we wait for that line
// instead of sleeping.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';
import net from 'node:net';

const binDir = process.env.TETHER_BIN_DIR ?? path.resolve(import.meta.dirname, '../../target/debug');

/**
 * Start `name` (a binary in TETHER_BIN_DIR) with ADDR=127.0.0.1:0 plus `env`.
 * Resolves to { url, port, child, stop(), kill(), output() }.
 */
export async function startServer(name, { env = {}, addr = '127.0.0.1:0', timeoutMs = 20000 } = {}) {
  const child = spawn(path.join(binDir, name), [], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env, ADDR: addr },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d) => { output += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print its address within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    let buffered = '';
    child.stdout.on('data', (d) => {
      output += d;
      buffered += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(buffered);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${path.join(binDir, name)}: ${error.message} (build it with cargo build --workspace --bins)`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });
  const port = Number(new URL(url).port);
  const exited = once(child, 'exit');
  return {
    url,
    port,
    child,
    output: () => output,
    /** Graceful stop (SIGTERM), resolves when the process is gone. */
    async stop() { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } },
    /** Hard kill (SIGKILL): every socket is cut at once. */
    async kill() { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; } },
  };
}

/** A free loopback port (for a server that must come back on the same port, or a port nothing listens on). */
export async function freePort() {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  await once(probe, 'close');
  return port;
}
