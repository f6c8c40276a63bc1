// Builds the boot script: client-js/src/index.ts bundled and minified by esbuild into the committed file
// client-js/dist/tether.js (an IIFE that defines `window.Tether`), with the built-in dialog's and error bar's CSS
// from assets/tether-reconnect.css and assets/tether-error.css minified and inlined. The runtime embeds that file, so `cargo build` needs no Node.
//
//   node client-js/build.mjs           write dist/tether.js
//   node client-js/build.mjs --check   rebuild in memory; fail when the committed file differs
// Both print the raw and gzip size.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const here = import.meta.dirname;
const root = path.resolve(here, '..');
export const BUNDLE_PATH = path.join(here, 'dist', 'tether.js');
/** The upload module, a separate script the boot script loads only on pages with `t-upload` elements. */
export const UPLOAD_PATH = path.join(here, 'dist', 'upload.js');
const CSS_PATH = path.join(root, 'assets', 'tether-reconnect.css');
const ERROR_CSS_PATH = path.join(root, 'assets', 'tether-error.css');

/** The esbuild `define` map shared by the bundle and the unit-test builds. */
export async function defines() {
  const css = await esbuild.transform(fs.readFileSync(CSS_PATH, 'utf8'), { loader: 'css', minify: true });
  const errorCss = await esbuild.transform(fs.readFileSync(ERROR_CSS_PATH, 'utf8'), { loader: 'css', minify: true });
  return { __TETHER_CSS__: JSON.stringify(css.code.trim()), __TETHER_ERROR_CSS__: JSON.stringify(errorCss.code.trim()) };
}

/** Builds the bundle in memory and returns its text. */
export async function buildBundle() {
  const result = await esbuild.build({
    entryPoints: [path.join(here, 'src', 'index.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    globalName: 'Tether',
    target: ['es2022'],
    define: await defines(),
    legalComments: 'none',
    banner: { js: '/* Tether boot script, built from client-js/src: do not edit */' },
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/** Builds the upload module in memory and returns its text. */
export async function buildUploadModule() {
  const result = await esbuild.build({
    entryPoints: [path.join(here, 'src', 'upload', 'index.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2022'],
    legalComments: 'none',
    banner: { js: '/* Tether upload module, built from client-js/src/upload: do not edit */' },
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

function sizes(text) {
  const raw = Buffer.byteLength(text);
  const gzip = zlib.gzipSync(text, { level: 9 }).length;
  return `raw ${raw} bytes (${(raw / 1024).toFixed(1)} KiB), gzip ${gzip} bytes (${(gzip / 1024).toFixed(1)} KiB)`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const outputs = [
    [BUNDLE_PATH, await buildBundle()],
    [UPLOAD_PATH, await buildUploadModule()],
  ];
  for (const [file, text] of outputs) {
    const relative = path.relative(root, file);
    if (process.argv.includes('--check')) {
      const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
      if (committed !== text) {
        console.error(
          `${relative} is ${committed === null ? 'missing' : 'out of date'}: it does not match client-js/src and assets/.\n` +
            `Run \`npm run build\` (node client-js/build.mjs) and commit ${relative}.`,
        );
        process.exit(1);
      }
      console.log(`${relative} is up to date: ${sizes(text)}`);
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      console.log(`wrote ${relative}: ${sizes(text)}`);
    }
  }
}
