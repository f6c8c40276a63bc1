// Builds the TypeScript modules under test with esbuild into client-js/.build/ (gitignored) and imports them,
// and makes jsdom documents for the DOM tests.
import * as esbuild from 'esbuild';
import { JSDOM } from 'jsdom';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { defines } from '../build.mjs';

const here = import.meta.dirname;
const outDir = path.join(here, '..', '.build');
const built = new Map();

/** Imports client-js/src/NAME.ts, bundled as an ES module. */
export async function load(name) {
  if (!built.has(name)) {
    built.set(name, (async () => {
      const outfile = path.join(outDir, `${name}.mjs`);
      await esbuild.build({
        entryPoints: [path.join(here, '..', 'src', `${name}.ts`)],
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        target: 'es2022',
        define: await defines(),
        outfile,
        logLevel: 'silent',
      });
      return import(pathToFileURL(outfile).href);
    })());
  }
  return built.get(name);
}

/** A jsdom document whose body holds `bodyHtml`. */
export function dom(bodyHtml = '') {
  const jsdom = new JSDOM(`<!DOCTYPE html><html><head></head><body>${bodyHtml}</body></html>`, { url: 'http://localhost:5000/app/page' });
  return jsdom.window;
}

/** Installs a jsdom window's globals that the modules read (document, CustomEvent, ...) for one test file. */
export function installGlobals(window) {
  for (const key of ['document', 'CustomEvent', 'Event', 'Node', 'HTMLElement', 'location', 'history', 'MutationObserver']) {
    Object.defineProperty(globalThis, key, { value: window[key], configurable: true, writable: true });
  }
}

/** The content between a range's start marker and its end marker, serialized like innerHTML. */
export function regionHtml(start, end) {
  const holder = start.ownerDocument.createElement('div');
  for (let n = start.nextSibling; n && n !== end; n = n.nextSibling) holder.appendChild(n.cloneNode(true));
  return holder.innerHTML;
}
