// A TCP proxy in front of a test server: the browser talks to the proxy, so a test can cut every connection
// (a network drop: the server keeps its circuits) or refuse new ones (the server looks unreachable) without
// touching the server process.
import net from 'node:net';
import { once } from 'node:events';

/** Starts a proxy on a free loopback port forwarding to `targetPort`. */
export async function startProxy(targetPort) {
  const sockets = new Set();
  const target = { port: targetPort };
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** Sends new connections to another server port (a restarted server). */
    retarget(port) {
      target.port = port;
    },
    /** Cuts every open connection, as a network drop would. */
    drop() {
      for (const s of sockets) s.destroy();
    },
    /** Refuses (resets) new connections until `accept()`. */
    refuse() {
      refusing = true;
      this.drop();
    },
    accept() {
      refusing = false;
    },
    async close() {
      this.drop();
      server.close();
      await once(server, 'close');
    },
  };
}
