// The upload module (bundled apart as dist/upload.js; the boot script adds it to pages that have an element
// with `t-upload`). It reports chosen files to the server and hands their bytes over when the server pulls:
//
// - a `change` of a file input with `t-upload`, or a `drop` on any other element with `t-upload` (a drop zone),
//   keeps each file under a new id and fires an `upload` event on the element whose detail lists
//   `{id, name, size, type}`; the boot script's event delegation sends it to the bound handler. No bytes move.
// - the server reads a file by calling the browser function `tether.upload.read(id, offset, length)`, which
//   answers with those bytes as base64 (the browser's own encoder where it has one); it keeps only a few such
//   calls in flight (the flow control is the server's). The file is read 1 MiB at a time and the chunks are cut
//   from that block, with the next block read ahead (one blob read per chunk would cost a trip through the
//   browser each, and a pull that waits for a block read stalls the pipe). `tether.upload.cancel(id)` forgets a
//   file; so does reading its last byte.
// - `TetherUpload.cancel()` cancels every file still held (a browser-side cancel: the server's next read fails),
//   `TetherUpload.sent` counts the bytes handed over and `TetherUpload.held` the files held, for tests and
//   diagnostics.
import { UPLOAD_ATTRIBUTE, UPLOAD_CANCEL, UPLOAD_EVENT, UPLOAD_READ } from './protocol';

interface TetherApi {
  registerFunction(name: string, fn: (...args: unknown[]) => unknown): void;
}

/** Bytes read from a file at once: a blob read costs a trip through the browser, so one read serves many chunks. */
const BLOCK_BYTES = 1 << 20;

/** A block of a file being read (or read). */
interface Block {
  start: number;
  end: number;
  bytes: Promise<Uint8Array>;
}

/** A chosen file and the blocks of it in use: the one chunks are cut from, and the next one, read ahead. */
interface Held {
  file: File;
  blocks: Block[];
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
    held.set(id, { file, blocks: [] });
    return { id, name: file.name, size: file.size, type: file.type };
  });
  // The element's own window's CustomEvent, so this also works in a test DOM.
  const Custom = element.ownerDocument.defaultView?.CustomEvent ?? CustomEvent;
  element.dispatchEvent(new Custom(UPLOAD_EVENT, { bubbles: true, detail: { files: described } }));
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** Base64 of `bytes` by table, for browsers without `Uint8Array.prototype.toBase64`: ASCII codes into a byte array, decoded once. */
export function tableBase64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = CODES[n >> 18];
    out[o++] = CODES[(n >> 12) & 63];
    out[o++] = CODES[(n >> 6) & 63];
    out[o++] = CODES[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    out[o++] = CODES[n >> 18];
    out[o++] = CODES[(n >> 12) & 63];
    out[o++] = i + 1 < bytes.length ? CODES[(n >> 6) & 63] : 61;
    out[o++] = 61;
  }
  return new TextDecoder().decode(out);
}

/** Base64 of `bytes`: the browser's own encoder where there is one (Chromium 140+, Firefox 133+), else by table. */
export function toBase64(bytes: Uint8Array): string {
  const native = (bytes as Uint8Array & { toBase64?: () => string }).toBase64;
  return native ? native.call(bytes) : tableBase64(bytes);
}

function readBlock(file: File, start: number, end: number): Block {
  return { start, end, bytes: file.slice(start, end).arrayBuffer().then((b) => new Uint8Array(b)) };
}

/**
 * The block holding `start..end`, read now if no block holds it; the block after it is read ahead, so the server's
 * pulls never wait for a blob read when they cross into the next block. Blocks behind `start` are let go.
 */
function blockFor(entry: Held, start: number, end: number): Block {
  const { file } = entry;
  let blocks = entry.blocks.filter((b) => b.end > start);
  let block = blocks.find((b) => b.start <= start && end <= b.end);
  if (!block) {
    block = readBlock(file, start, Math.min(file.size, Math.max(end, start + BLOCK_BYTES)));
    blocks = [block];
  }
  const next = block.end;
  if (next < file.size && !blocks.some((b) => b.start === next)) blocks.push(readBlock(file, next, Math.min(file.size, next + BLOCK_BYTES)));
  entry.blocks = blocks;
  return block;
}

async function read(id: unknown, offset: unknown, length: unknown): Promise<string> {
  const entry = held.get(id as number);
  if (!entry) throw new Error('cancelled');
  const { file } = entry;
  const start = Number(offset);
  const end = start + Number(length);
  if (!(start >= 0 && end <= file.size && end > start)) throw new Error(`bad range ${start}..${end} of ${file.size} bytes`);
  const block = blockFor(entry, start, end);
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
