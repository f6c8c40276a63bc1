// Turns a failed negotiation, poll or WebSocket handshake into a console message that names the likely cause
// and the fix. The HTTP status is what people search for, so every message starts with it.

/** A transport-level failure at `stage` with HTTP `status` (0 when the browser gives none), explained by `diagnose`. */
export function httpError(stage: FailureStage, status: number, url: string): Error {
  return new Error(diagnose(stage, status, url));
}

/** Where the failure happened: negotiation, the WebSocket handshake, or a long-polling request. */
export type FailureStage = 'negotiate' | 'websocket' | 'poll';

/** The explanation for a status at a stage: what it means and how to fix it. */
export function diagnose(stage: FailureStage, status: number, url: string): string {
  const from = `${status || 'no response (status 0)'} from ${url}: `;
  switch (status) {
    case 404:
      return from + (stage === 'negotiate'
        ? 'no hub at this path. Make the hub URL (configureSignalR: builder.withUrl(...)) match the path the server maps the hub at.'
        : 'this server does not know the connection id. Several servers without sticky sessions? Enable session affinity at the load balancer.');
    case 400:
      return from + 'WebSockets are not enabled on the server, or a proxy drops the Upgrade/Connection headers. Enable WebSockets on the server and proxy.';
    case 403:
      return from + `the server refused this page's origin (${globalThis.location?.origin}). Add it to the server's allowed origins.`;
    case 0:
    case 405:
      return from + "blocked: most often the hub is on another origin that refuses this page's origin (CORS; a refused origin's 403 reaches the page as no response), or the URL is not the hub. Allow this origin on the server, or serve the page from the hub's origin; check the server runs.";
    case 301:
    case 302:
    case 307:
    case 308:
      return from + "the server redirects (usually http to https) and negotiation does not follow redirects. Use the site's https URL, or builder.withUrl('https://...').";
    case 413:
      return from + 'request too large for the server or a proxy (an access token in the query, or a message over the limit). Shorten it or raise the limit.';
    default:
      return from + `the ${stage} request failed.`;
  }
}

/** The explanation for a WebSocket that closed before the hub handshake (the browser hides the HTTP status). */
export function diagnoseWebSocket(url: string, code: number): string {
  return `the WebSocket to ${url} failed (close code ${code}). The browser hides the HTTP status (see the network panel); usual causes: WebSockets not enabled on the server or proxy (400), origin refused (403), connection id unknown to this server: several servers without sticky sessions (404).`;
}
