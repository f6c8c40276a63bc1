// The chat example's hub (`/chathub`) through the official @microsoft/signalr client, for the scale-out
// tests: connect as a user over a transport, and collect what a connection receives.
import * as signalR from '@microsoft/signalr';

export const PATIENCE_MS = 10000;

/** A started connection to `server`'s chat hub (WebSockets unless `transport` says otherwise). */
export async function connectChat(server, { transport = signalR.HttpTransportType.WebSockets, user } = {}) {
  const c = new signalR.HubConnectionBuilder()
    .withUrl(`${server.url}/chathub`, { transport, headers: user ? { 'X-Chat-User': user } : {} })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await c.start();
  return c;
}

/** Collects every `name` invocation on `c`; `next()` resolves with the next one's arguments. */
export function inbox(c, name) {
  const items = [];
  let wake = null;
  c.on(name, (...args) => { items.push(args); wake?.(); });
  return {
    items,
    async next() {
      const deadline = Date.now() + PATIENCE_MS;
      while (items.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${name} within ${PATIENCE_MS} ms`);
        let timer;
        await new Promise((resolve) => { wake = resolve; timer = setTimeout(resolve, left); });
        clearTimeout(timer);
        wake = null;
      }
      return items.shift();
    },
  };
}
