// Negotiation: `POST {hub}/negotiate?negotiateVersion=1` tells which transports the server offers and hands
// out the connection token that every later request carries as `id`.
import { HttpError, diagnose } from './diagnostics';

/** One transport offered by the server. */
export interface AvailableTransport {
  transport: string;
  transferFormats: string[];
}

/** What a successful negotiation yields. */
export interface Negotiation {
  /** The hub URL to use from now on (a redirecting server may change it). */
  url: string;
  connectionToken: string;
  availableTransports: AvailableTransport[];
  accessToken?: string;
}

interface NegotiateBody {
  error?: string;
  url?: string;
  accessToken?: string;
  connectionId?: string;
  connectionToken?: string;
  negotiateVersion?: number;
  availableTransports?: AvailableTransport[];
}

const MAX_REDIRECTS = 100;

/** Appends `name=value` to a URL that may already carry a query. */
export function withQuery(url: string, name: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
}

/** Negotiates with the hub at `url`, following `url` redirects in the answer. Throws `HttpError` on a bad status. */
export async function negotiate(url: string, accessToken?: string): Promise<Negotiation> {
  for (let redirects = 0; redirects < MAX_REDIRECTS; redirects++) {
    const [path, query] = url.split('?');
    const negotiateUrl = withQuery(`${path.replace(/\/$/, '')}/negotiate${query ? `?${query}` : ''}`, 'negotiateVersion', '1');
    let response: Response;
    try {
      response = await fetch(negotiateUrl, {
        method: 'POST',
        credentials: 'include',
        redirect: 'manual',
        headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
      });
    } catch {
      throw new HttpError(diagnose('negotiate', 0, negotiateUrl), 0);
    }
    if (response.type === 'opaqueredirect') throw new HttpError(diagnose('negotiate', 307, negotiateUrl), 307);
    if (!response.ok) throw new HttpError(diagnose('negotiate', response.status, negotiateUrl), response.status);
    const body = (await response.json()) as NegotiateBody;
    if (body.error) throw new Error(`negotiation with ${negotiateUrl} failed: ${body.error}`);
    if (body.url) {
      url = body.url;
      accessToken = body.accessToken ?? accessToken;
      continue;
    }
    const token = (body.negotiateVersion ?? 0) >= 1 ? body.connectionToken : body.connectionId;
    if (!token) throw new Error(`negotiation with ${negotiateUrl} returned no connection token`);
    return { url, connectionToken: token, availableTransports: body.availableTransports ?? [], accessToken };
  }
  throw new Error(`negotiation with ${url} was redirected more than ${MAX_REDIRECTS} times`);
}
