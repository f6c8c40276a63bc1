// Feature modules loaded on demand: a page gets the upload module (`{hub}/upload.js`) only once an element with
// `t-upload` is in it, so the core boot script carries just this check. A module is a classic script that uses
// the public `window.Tether` API; it is requested once per page.
const requested = new Set<string>();

/** Adds the script of each feature module the document now needs. */
export function loadModules(doc: Document, hubUrl: string): void {
  if (!requested.has('upload') && doc.querySelector('[t-upload]')) {
    requested.add('upload');
    const script = doc.createElement('script');
    script.src = hubUrl.split('?')[0] + '/upload.js';
    doc.head.append(script);
  }
}
