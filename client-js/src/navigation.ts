// Navigation inside a router region (`[data-t-router="BASE"]`, rendered by the server's router): a plain click on
// a same-origin link under BASE becomes a history entry reported to the circuit, which swaps the page and sends a
// render batch; the document is not reloaded. Left to the browser: modified clicks (Ctrl, Shift, Alt, Meta),
// buttons other than the main one, `target` other than `_self`, `download`, links marked `data-t-reload`, other
// origins, paths outside BASE, and links to a fragment of the current page. After the batch, `settle` moves focus
// to the new page's heading and scrolls to the fragment or the top, as a page load would.

/** Where the boot script takes an intercepted link: the circuit's in-page navigation. */
export type Navigate = (url: URL) => void;

/** The link a click should navigate within the circuit, or undefined to leave it to the browser. */
export function interceptedLink(event: MouseEvent, doc: Document): URL | undefined {
  if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.shiftKey || event.altKey || event.metaKey) return;
  const link = (event.target as Element | null)?.closest?.('a[href]');
  const router = link?.closest('[data-t-router]');
  if (!link || !router || link.hasAttribute('download') || link.hasAttribute('data-t-reload')) return;
  const target = link.getAttribute('target');
  if (target && target !== '_self') return;
  const url = new URL(link.getAttribute('href')!, doc.baseURI);
  const here = doc.defaultView!.location;
  if (url.origin !== here.origin) return;
  const base = router.getAttribute('data-t-router') || '';
  if (base && url.pathname !== base && !url.pathname.startsWith(base + '/')) return;
  if (url.hash && url.pathname === here.pathname && url.search === here.search) return;
  return url;
}

/** Listens for link clicks on `doc`; returns the function that stops listening. */
export function interceptLinks(doc: Document, navigate: Navigate): () => void {
  const onClick = (event: MouseEvent) => {
    const url = interceptedLink(event, doc);
    if (!url) return;
    event.preventDefault();
    navigate(url);
  };
  doc.addEventListener('click', onClick);
  return () => doc.removeEventListener('click', onClick);
}

/** After an in-page navigation: focus the page's heading, scroll to the fragment (or the top). */
export function settle(doc: Document, hash: string): void {
  const heading = doc.querySelector<HTMLElement>('[data-t-router] [data-focus-on-navigate]') ?? doc.querySelector<HTMLElement>('[data-t-router] h1');
  if (heading) {
    if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
  const anchor = hash && doc.getElementById(decodeURIComponent(hash.slice(1)));
  if (anchor) anchor.scrollIntoView();
  else doc.defaultView!.scrollTo(0, 0);
}
