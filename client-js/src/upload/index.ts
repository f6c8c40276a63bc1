// The upload module (bundled apart as dist/upload.js; the boot script adds it to pages that have an element
// with `t-upload`). It reports chosen files to the server and hands their bytes over when the server pulls:
//
// - a `change` of a file input with `t-upload`, or a `drop` on any other element with `t-upload` (a drop zone),
//   keeps each file under a new id and fires an `upload` event on the element whose detail lists
//   `{id, name, size, type}`; the boot script's event delegation sends it to the bound handler. No bytes move.
// - the server reads a file by calling the browser function `tether.upload.read(id, offset, length)`, which
//   answers with those bytes as base64; it keeps only a few such calls in flight (the flow control is the
//   server's). The file is read 1 MiB at a time and the chunks are cut from that block (one blob read per
//   chunk would cost a trip through the browser each). `tether.upload.cancel(id)` forgets a file; so does
//   reading its last byte.
// - `TetherUpload.cancel()` cancels every file still held (a browser-side cancel: the server's next read fails),
//   `TetherUpload.sent` counts the bytes handed over and `TetherUpload.held` the files held, for tests and
//   diagnostics.
import { UPLOAD_ATTRIBUTE, UPLOAD_CANCEL, UPLOAD_EVENT, UPLOAD_READ } from './protocol';

interface TetherApi {
  registerFunction(name: string, fn: (...args: unknown[]) => unknown): void;
}

/** Bytes read from a file at once: a blob read costs a trip through the browser, so one read serves many chunks. */
const BLOCK_BYTES = 1 << 20;

/** A chosen file and the block of it read last. */
interface Held {
  file: File;
  block?: { start: number; end: number; bytes: Promise<Uint8Array> };
}

const held = new Map<number, Held>();
let nextId = 1;
const state = {
  sent: 0,
  /** Files held (chosen and not yet read to the end, cancelled or refused). */
  get held(): number {
    return held.size;
  },
  /** The chunk reader the server calls (exposed so tests can hold reads back). */
  read: (id: unknown, offset: unknown, length: unknown) => read(id, offset, length),
  /** Forgets every file held; reads of them fail with "cancelled". */
  cancel(): void {
    held.clear();
  },
};

function report(element: Element, files: ArrayLike<File>): void {
  const described = Array.from(files, (file) => {
    const id = nextId++;
    held.set(id, { file });
    return { id, name: file.name, size: file.size, type: file.type };
  });
  // The element's own window's CustomEvent, so this also works in a test DOM.
  const Custom = element.ownerDocument.defaultView?.CustomEvent ?? CustomEvent;
  element.dispatchEvent(new Custom(UPLOAD_EVENT, { bubbles: true, detail: { files: described } }));
}

/** Base64 of `bytes`, in slices small enough for `String.fromCharCode`'s argument limit. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let at = 0; at < bytes.length; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(binary);
}

async function read(id: unknown, offset: unknown, length: unknown): Promise<string> {
  const entry = held.get(id as number);
  if (!entry) throw new Error('cancelled');
  const { file } = entry;
  const start = Number(offset);
  const end = start + Number(length);
  if (!(start >= 0 && end <= file.size && end > start)) throw new Error(`bad range ${start}..${end} of ${file.size} bytes`);
  let block = entry.block;
  if (!block || start < block.start || end > block.end) {
    const blockEnd = Math.min(file.size, Math.max(end, start + BLOCK_BYTES));
    const bytes = file.slice(start, blockEnd).arrayBuffer().then((b) => new Uint8Array(b));
    block = entry.block = { start, end: blockEnd, bytes };
  }
  const bytes = (await block.bytes).subarray(start - block.start, end - block.start);
  // Cancelled while reading: the server must not get the bytes.
  if (held.get(id as number) !== entry) throw new Error('cancelled');
  if (end === file.size) held.delete(id as number);
  state.sent += bytes.length;
  return toBase64(bytes);
}

/** Installs the listeners and browser functions on `doc` (once per page). */
export function install(doc: Document, tether: TetherApi): void {
  tether.registerFunction(UPLOAD_READ, read);
  tether.registerFunction(UPLOAD_CANCEL, (id) => void held.delete(id as number));
  doc.addEventListener('change', (event) => {
    const input = event.target as HTMLInputElement;
    if (input?.type !== 'file' || !input.hasAttribute(UPLOAD_ATTRIBUTE) || !input.files) return;
    report(input, input.files);
    // The files are held here now; clearing the input lets the same file be chosen again.
    input.value = '';
  });
  const zoneOf = (event: Event) => (event.target as Element | null)?.closest?.(`[${UPLOAD_ATTRIBUTE}]:not(input)`);
  doc.addEventListener('dragover', (event) => {
    const zone = zoneOf(event);
    if (!zone) return;
    // Without this the browser opens the dropped file instead.
    event.preventDefault();
    zone.classList.add('t-dragover');
  });
  doc.addEventListener('dragleave', (event) => zoneOf(event)?.classList.remove('t-dragover'));
  doc.addEventListener('drop', (event) => {
    const zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove('t-dragover');
    report(zone, (event as DragEvent).dataTransfer?.files ?? []);
  });
}

const g = globalThis as unknown as { Tether?: TetherApi; TetherUpload?: typeof state; document?: Document };
if (g.Tether && g.document && !g.TetherUpload) {
  g.TetherUpload = state;
  install(g.document, g.Tether);
}
