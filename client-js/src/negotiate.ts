// Negotiation: `POST {hub}/negotiate?negotiateVersion=1` tells which transports the server offers and hands
// out the connection token that every later request carries as `id`.
import { httpError } from './diagnostics';

/** One transport offered by the server. */
export interface AvailableTransport {
  transport: string;
  transferFormats: string[];
}

/** What a successful negotiation yields. */
export interface Negotiation {
  connectionToken: string;
  availableTransports: AvailableTransport[];
}

interface NegotiateBody {
  error?: string;
  connectionId?: string;
  connectionToken?: string;
  negotiateVersion?: number;
  availableTransports?: AvailableTransport[];
}

/** Appends `name=value` to a URL that may already carry a query. */
export function withQuery(url: string, name: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
}

/**
 * Negotiates with the hub at `url`. Throws the `diagnose` explanation on a bad status. A Tether hub never answers with a
 * redirect to another service (`url` and `accessToken` in the body, a SignalR service feature), so such an
 * answer fails as one without a connection token.
 */
export async function negotiate(url: string): Promise<Negotiation> {
  const [path, query] = url.split('?');
  const negotiateUrl = withQuery(`${path.replace(/\/$/, '')}/negotiate${query ? `?${query}` : ''}`, 'negotiateVersion', '1');
  let response: Response;
  try {
    response = await fetch(negotiateUrl, { method: 'POST', credentials: 'include', redirect: 'manual' });
  } catch {
    throw httpError('negotiate', 0, negotiateUrl);
  }
  const status = response.type === 'opaqueredirect' ? 307 : response.status;
  if (!response.ok) throw httpError('negotiate', status, negotiateUrl);
  const body = (await response.json()) as NegotiateBody;
  if (body.error) throw new Error(`negotiation with ${negotiateUrl} failed: ${body.error}`);
  const token = (body.negotiateVersion ?? 0) >= 1 ? body.connectionToken : body.connectionId;
  if (!token) throw new Error(`negotiation with ${negotiateUrl} returned no connection token`);
  return { connectionToken: token, availableTransports: body.availableTransports ?? [] };
}
