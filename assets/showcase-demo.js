// Showcase demo helper (not part of Tether): lets a page simulate a network failure so the reconnection
// examples can be tried by hand and by the browser tests. Load it before the boot script.
//
//   showcase.dropConnection({ offlineMs })  closes the page's open WebSockets with code 4000 (as a network
//                                           failure looks to the boot script) and, for offlineMs, makes
//                                           requests to the hub (negotiation comes first in every attempt)
//                                           fail as if the server were unreachable.
(() => {
  const NativeWebSocket = window.WebSocket;
  const nativeFetch = window.fetch.bind(window);
  const open = new Set();
  let offlineUntil = 0;
  const offline = () => Date.now() < offlineUntil;

  class WatchedWebSocket extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      open.add(this);
      this.addEventListener('close', () => open.delete(this));
    }
  }
  window.WebSocket = WatchedWebSocket;
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (offline() && url.includes('/_tether')) return Promise.reject(new TypeError('Failed to fetch (simulated network failure)'));
    return nativeFetch(input, init);
  };

  window.showcase = {
    dropConnection({ offlineMs = 0 } = {}) {
      offlineUntil = Date.now() + offlineMs;
      for (const socket of open) socket.close(4000, 'simulated network failure');
    },
    get offline() { return offline(); },
  };
})();
