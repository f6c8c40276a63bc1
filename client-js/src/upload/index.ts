// The upload module (bundled apart as dist/upload.js; the boot script adds it to pages that have an element
// with `t-upload`). It reports chosen files to the server and sends their bytes under the server's credit:
//
// - a `change` of a file input with `t-upload`, or a `drop` on any other element with `t-upload` (a drop zone),
//   keeps each file under a new id and fires an `upload` event on the element whose detail lists
//   `{id, name, size, type}`; the boot script's event delegation sends it to the bound handler. No bytes move.
// - the server grants credit by calling the browser function `tether.upload.send(id, upTo, chunkBytes)`: the
//   module sends the file's bytes up to offset `upTo` as `UploadChunk(id, offset, base64)` hub messages of at
//   most `chunkBytes`, back to back and fire-and-forget (`Tether.send`), and answers the call once its last
//   chunk is sent (the answer follows the chunks on the connection). Grants only raise the credit, so one that
//   arrives late changes nothing; one sender per file keeps the chunks in order. The file is read through its
//   stream, which the browser reads ahead by itself. Base64 is the browser's own encoder where there is one.
// - `tether.upload.cancel(id)` forgets a file; so does sending its last byte, or failing to send (the sender
//   stops and the server's grant is answered with the reason: `cancelled`, or why it could not send).
// - `TetherUpload.cancel()` cancels every file still held (a browser-side cancel: pending grants are answered
//   `cancelled`), `TetherUpload.sent` counts the bytes sent and `TetherUpload.held` the files held, for tests and
//   diagnostics; `TetherUpload.hold`, when a test sets it, is called before each chunk with `(id, offset)`, and a
//   promise it returns holds that chunk back until it settles.
import { UPLOAD_ATTRIBUTE, UPLOAD_CANCEL, UPLOAD_CHUNK, UPLOAD_EVENT, UPLOAD_SEND } from './protocol';

interface TetherApi {
  registerFunction(name: string, fn: (...args: unknown[]) => unknown): void;
  /** Sends a hub method with its arguments as JSON text; falsy when not connected. */
  send(target: string, argsJson: string): unknown;
}

/** A grant waiting for its bytes to be sent. */
interface Grant {
  upTo: number;
  resolve: (value: null) => void;
  reject: (error: Error) => void;
}

/** A chosen file: its reader, and how far the server's credit and the sending have got. */
interface Held {
  file: File;
  /** The file's bytes in order, opened at the first grant. */
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  /** The piece of the file last read, and how much of it was sent. */
  piece: Uint8Array;
  pieceAt: number;
  /** The end of the credit granted: bytes before it may be sent. */
  credit: number;
  chunk: number;
  /** Bytes sent so far. */
  sent: number;
  grants: Grant[];
  sending: boolean;
}

const held = new Map<number, Held>();
let nextId = 1;
let tether: TetherApi;
const state = {
  sent: 0,
  /** Files held (chosen and not yet sent to the end, cancelled or refused). */
  get held(): number {
    return held.size;
  },
  /** Set by tests to hold chunks back (see the module notes). */
  hold: undefined as ((id: number, offset: number) => Promise<unknown> | undefined) | undefined,
  /** Forgets every file held; their pending grants are answered "cancelled". */
  cancel(): void {
    for (const id of [...held.keys()]) forget(id, new Error('cancelled'));
  },
};

function report(element: Element, files: ArrayLike<File>): void {
  const described = Array.from(files, (file) => {
    const id = nextId++;
    held.set(id, { file, piece: new Uint8Array(0), pieceAt: 0, credit: 0, chunk: 1, sent: 0, grants: [], sending: false });
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

/**
 * The file's next `length` bytes, read through its stream: the browser reads the stream ahead on its own, where a
 * blob read per block would wait for a trip through the browser each time. A chunk inside one piece of the stream
 * is a view of it; one across pieces is copied together.
 */
async function nextBytes(entry: Held, length: number): Promise<Uint8Array> {
  entry.reader ??= entry.file.stream().getReader();
  if (entry.piece.length - entry.pieceAt >= length) return entry.piece.subarray(entry.pieceAt, (entry.pieceAt += length));
  const bytes = new Uint8Array(length);
  for (let filled = 0; filled < length; ) {
    if (entry.pieceAt === entry.piece.length) {
      const { value, done } = await entry.reader.read();
      if (done) throw new Error(`the file ended after ${entry.sent + filled} of ${entry.file.size} bytes`);
      entry.piece = value;
      entry.pieceAt = 0;
      continue;
    }
    const n = Math.min(length - filled, entry.piece.length - entry.pieceAt);
    bytes.set(entry.piece.subarray(entry.pieceAt, (entry.pieceAt += n)), filled);
    filled += n;
  }
  return bytes;
}

/** Drops a file; its pending grants are answered with `error`. */
function forget(id: number, error: Error): void {
  const entry = held.get(id);
  held.delete(id);
  entry?.reader?.cancel().catch(() => {});
  for (const grant of entry?.grants.splice(0) ?? []) grant.reject(error);
}

/** `tether.upload.send(id, upTo, chunkBytes)`: raises the file's credit; resolves once the bytes up to `upTo` are sent. */
function grant(id: unknown, upTo: unknown, chunk: unknown): Promise<null> {
  const entry = held.get(id as number);
  if (!entry) return Promise.reject(new Error('cancelled'));
  const to = Number(upTo);
  const size = Number(chunk);
  if (!(to >= 0 && to <= entry.file.size && size >= 1)) return Promise.reject(new Error(`bad grant up to ${to} of ${entry.file.size} bytes in chunks of ${size}`));
  entry.credit = Math.max(entry.credit, to);
  entry.chunk = size;
  const answered = new Promise<null>((resolve, reject) => entry.grants.push({ upTo: to, resolve, reject }));
  if (!entry.sending) void pump(id as number, entry);
  else settle(entry);
  return answered;
}

/** Answers the grants whose bytes are all sent. */
function settle(entry: Held): void {
  entry.grants = entry.grants.filter((grant) => grant.upTo > entry.sent || void grant.resolve(null));
}

/** Sends the file's bytes up to its credit, chunk after chunk; runs once per file at a time (so chunks go in order). */
async function pump(id: number, entry: Held): Promise<void> {
  entry.sending = true;
  try {
    settle(entry);
    while (entry.sent < entry.credit) {
      const start = entry.sent;
      const end = Math.min(entry.credit, start + entry.chunk);
      const bytes = await nextBytes(entry, end - start);
      const holding = state.hold?.(id, start);
      if (holding) await holding;
      // Cancelled meanwhile: the server must not get the bytes.
      if (held.get(id) !== entry) throw new Error('cancelled');
      if (!tether.send(UPLOAD_CHUNK, `[${id},${start},"${toBase64(bytes)}"]`)) throw new Error('not connected to the server');
      entry.sent = end;
      state.sent += bytes.length;
      settle(entry);
    }
    if (entry.sent === entry.file.size && held.get(id) === entry) held.delete(id);
  } catch (error) {
    if (held.get(id) === entry) forget(id, error as Error);
    else for (const grant of entry.grants.splice(0)) grant.reject(error as Error);
  } finally {
    entry.sending = false;
  }
}

/** Installs the listeners and browser functions on `doc` (once per page). */
export function install(doc: Document, api: TetherApi): void {
  tether = api;
  api.registerFunction(UPLOAD_SEND, grant);
  api.registerFunction(UPLOAD_CANCEL, (id) => forget(id as number, new Error('cancelled')));
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
