// Feature modules loaded on demand: a page gets the upload module (`{hub}/upload.js`) only once an element with
// `t-upload` is in it (checked after each render batch, the first being the attach), so the core boot script
// carries just this check. A module is a classic script that uses the public `window.Tether` API; it is
// requested once per page.
let uploadRequested = false;

/** Adds the script of each feature module the document now needs. */
export function loadModules(doc: Document, hubUrl: string): void {
  if (!uploadRequested && doc.querySelector('[t-upload]')) {
    uploadRequested = true;
    doc.head.appendChild(doc.createElement('script')).src = hubUrl.split('?')[0] + '/upload.js';
  }
}
