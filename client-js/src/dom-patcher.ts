// Applies render batches to the page. Invariants:
// - Every addressable node is in `nodes` under the id the server gave it (pre-order numbering from `firstId`,
//   raw-region content unnumbered); removed nodes leave the map with their whole subtree.
// - Range markers (`<!--t:...-->` … `<!--/t-->`) are siblings; a range's end is the first `/t` at the same depth,
//   and removing or moving a range start takes the whole range along.
// - Batches apply strictly in id order: an old id is acknowledged again without applying, a gap is not applied
//   (the server re-sends every unacknowledged batch after a reconnect).
// Only DOM APIs of the nodes' own document are used, so the tests run it in jsdom.
import { MARKER_END, MARKER_RAW, MARKER_ROOT_PREFIX, MARKER_START_PREFIX, Op, type Edit, type RenderBatch } from './protocol';

const ELEMENT = 1;
const TEXT = 3;
const COMMENT = 8;
const SVG_NS = 'http://www.w3.org/2000/svg';

/** What to do after a `T.Batch` arrived. */
export interface BatchOutcome {
  /** Whether to call `OnRenderCompleted` for it. */
  ack: boolean;
  /** Whether it was applied now (false for a duplicate or a gap). */
  applied: boolean;
  /** The apply error to report, or null. */
  error: string | null;
}

function isComment(node: Node, data?: string): node is Comment {
  return node.nodeType === COMMENT && (data === undefined || (node as Comment).data === data);
}

function isRangeStart(node: Node): boolean {
  return isComment(node) && node.data.startsWith(MARKER_START_PREFIX);
}

/** The end marker of the range that `start` opens. */
export function rangeEnd(start: Node): Node {
  let depth = 1;
  for (let node = start.nextSibling; node; node = node.nextSibling) {
    if (isRangeStart(node)) depth++;
    else if (isComment(node, MARKER_END) && --depth === 0) return node;
  }
  throw new Error(`the range opened by <!--${(start as Comment).data}--> has no end marker`);
}

/** The node itself, or all nodes of the range it opens, in order. */
function rangeNodes(node: Node): Node[] {
  if (!isRangeStart(node)) return [node];
  const end = rangeEnd(node);
  return [node, ...rangeContent(node, end), end];
}

/** Nodes strictly between a range's start and end markers. */
function rangeContent(start: Node, end: Node): Node[] {
  const list: Node[] = [];
  for (let n = start.nextSibling; n && n !== end; n = n.nextSibling) list.push(n);
  return list;
}

/** The root region start markers of a document, in document order; their index is the root index. */
export function findRoots(doc: Document): Comment[] {
  const roots: Comment[] = [];
  const walker = doc.createTreeWalker(doc.body ?? doc.documentElement, 128 /* NodeFilter.SHOW_COMMENT */);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if ((n as Comment).data.startsWith(MARKER_ROOT_PREFIX)) roots.push(n as Comment);
  }
  return roots;
}

/** Root descriptors in root-index order, for `StartCircuit`. */
export function rootDescriptors(roots: Comment[]): string[] {
  return roots.map((r) => r.data.slice(MARKER_ROOT_PREFIX.length));
}

/** Owns the node id map of one circuit and applies its batches. */
export class DomPatcher {
  /** Id of the last batch applied (0 before the first). */
  lastBatchId = 0;
  readonly #nodes = new Map<number, Node>();
  readonly #idOf = new WeakMap<Node, number>();

  readonly #roots: Comment[];
  readonly #isStale?: (field: Element) => boolean;

  /** `isStale` tells a field value rendered before the browser's newest one, which is then not applied. */
  constructor(roots: Comment[], isStale?: (field: Element) => boolean) {
    this.#roots = roots;
    this.#isStale = isStale;
  }

  /** The node with this id, if the page has it. */
  node(id: number): Node | undefined {
    return this.#nodes.get(id);
  }

  /** Applies `batch` when it is the next one; see `BatchOutcome`. */
  receive(batchId: number, batch: RenderBatch): BatchOutcome {
    if (batchId <= this.lastBatchId) return { ack: true, applied: false, error: null };
    if (batchId !== this.lastBatchId + 1) return { ack: false, applied: false, error: null };
    let error: string | null = null;
    const focus = rememberFocus(this.#roots[0]?.ownerDocument);
    try {
      for (const edit of batch) this.apply(edit);
    } catch (e) {
      error = (e as Error)?.message ?? String(e);
    }
    focus?.();
    this.lastBatchId = batchId;
    return { ack: true, applied: true, error };
  }

  /** Applies one edit; throws with the opcode and ids on a bad edit. */
  apply(edit: Edit): void {
    const [op] = edit;
    const args = edit as unknown[];
    switch (op) {
      case Op.InsertBefore: {
        const anchor = this.#get(args[1]);
        anchor.parentNode!.insertBefore(this.#parse(args[2] as string, anchor.parentNode!, args[3] as number), anchor);
        return;
      }
      case Op.Append: {
        const parent = this.#get(args[1]);
        parent.appendChild(this.#parse(args[2] as string, parent, args[3] as number));
        return;
      }
      case Op.Remove:
        for (const n of rangeNodes(this.#get(args[1]))) {
          this.#forget(n);
          n.parentNode?.removeChild(n);
        }
        return;
      case Op.MoveBefore: {
        const anchor = this.#get(args[2]);
        for (const n of rangeNodes(this.#get(args[1]))) move(anchor.parentNode!, n, anchor);
        return;
      }
      case Op.MoveToEnd: {
        const parent = this.#get(args[2]);
        for (const n of rangeNodes(this.#get(args[1]))) move(parent, n, null);
        return;
      }
      case Op.SetAttribute:
        this.#element(args[1]).setAttribute(args[2] as string, args[3] as string);
        return;
      case Op.RemoveAttribute:
        this.#element(args[1]).removeAttribute(args[2] as string);
        return;
      case Op.SetText: {
        const node = this.#get(args[1]);
        if (node.nodeType !== TEXT && node.nodeType !== COMMENT) throw new Error(`op 8: node ${args[1]} is not a text node`);
        (node as CharacterData).data = args[2] as string;
        return;
      }
      case Op.SetProperty: {
        const element = this.#element(args[1]);
        if (args[2] !== 'value' || !this.#isStale?.(element)) setProperty(element, args[2] as string, args[3]);
        return;
      }
      case Op.ReplaceRaw: {
        const start = this.#get(args[1]);
        if (!isComment(start, MARKER_RAW)) throw new Error(`op 10: node ${args[1]} is not a raw region start`);
        const end = rangeEnd(start);
        for (const n of rangeContent(start, end)) n.parentNode!.removeChild(n);
        end.parentNode!.insertBefore(this.#parse(args[2] as string, end.parentNode!), end);
        return;
      }
      case Op.AttachRoot:
        this.#attachRoot(args[1] as number, args[2] as string, args[3] as number);
        return;
      default:
        throw new Error(`unknown edit opcode ${String(op)}`);
    }
  }

  #attachRoot(rootIndex: number, html: string, firstId: number): void {
    const start = this.#roots[rootIndex];
    if (!start) throw new Error(`op 11: the page has no root region ${rootIndex} (it has ${this.#roots.length})`);
    const end = rangeEnd(start);
    const parent = start.parentNode!;
    const current = rangeContent(start, end);
    const fresh = Array.from(this.#parse(html, parent).childNodes);
    for (const n of [start, ...current, end]) this.#forget(n);
    const same = current.length === fresh.length && current.every((n, i) => n.isEqualNode(fresh[i]));
    // Equal prerendered content stays, so the page does not flicker and focus and caret survive.
    const content = same ? current : fresh;
    if (!same) {
      for (const n of current) parent.removeChild(n);
      for (const n of fresh) parent.insertBefore(n, end);
    }
    this.#number([start, ...content, end], firstId);
  }

  #get(id: unknown): Node {
    const node = this.#nodes.get(id as number);
    if (!node) throw new Error(`node ${String(id)} is not on the page`);
    return node;
  }

  #element(id: unknown): Element {
    const node = this.#get(id);
    if (node.nodeType !== ELEMENT) throw new Error(`node ${String(id)} is not an element`);
    return node as Element;
  }

  /** Parses `html` in the context of `parent` (SVG children stay SVG) and numbers it from `firstId`. */
  #parse(html: string, parent: Node, firstId?: number): DocumentFragment {
    const doc = parent.ownerDocument ?? (parent as Document);
    const template = doc.createElement('template');
    const svg = (parent as Element).namespaceURI === SVG_NS && parent.nodeName !== 'foreignObject';
    template.innerHTML = svg ? `<svg>${html}</svg>` : html;
    let fragment = template.content;
    if (svg) {
      fragment = doc.createDocumentFragment();
      fragment.append(...Array.from(template.content.firstChild!.childNodes));
    }
    if (firstId !== undefined) this.#number(Array.from(fragment.childNodes), firstId);
    return fragment;
  }

  /** Numbers sibling `list` and their descendants in pre-order from `nextId`; returns the next free id. */
  #number(list: ArrayLike<Node>, nextId: number): number {
    for (let i = 0; i < list.length; i++) {
      const node = list[i];
      this.#nodes.set(nextId, node);
      this.#idOf.set(node, nextId++);
      if (isComment(node, MARKER_RAW)) {
        // Raw content is opaque: skip to the matching end marker, which is numbered.
        const end = rangeEnd(node);
        while (i + 1 < list.length && list[i + 1] !== end) i++;
      } else if (node.nodeType === ELEMENT) {
        nextId = this.#number(node.childNodes, nextId);
      }
    }
    return nextId;
  }

  #forget(node: Node): void {
    const id = this.#idOf.get(node);
    if (id !== undefined && this.#nodes.get(id) === node) this.#nodes.delete(id);
    for (let child = node.firstChild; child; child = child.nextSibling) this.#forget(child);
  }
}

type MovingParent = Node & { moveBefore?(node: Node, child: Node | null): void };

/** Moves a node keeping its state where the browser can (`moveBefore` keeps focus, iframes, animations). */
function move(parent: MovingParent, node: Node, before: Node | null): void {
  if (parent.moveBefore && node.isConnected && (parent as Node).isConnected) {
    try {
      parent.moveBefore(node, before);
      return;
    } catch {
      // Not movable this way (another document, say): fall back to a plain insert.
    }
  }
  parent.insertBefore(node, before);
}

/**
 * Notes the focused field and its selection; the returned function gives focus back if the batch took it
 * away (a keyed move re-inserts the node, and a plain re-insert drops focus).
 */
function rememberFocus(doc: Document | undefined): (() => void) | undefined {
  const active = doc?.activeElement as HTMLInputElement | null | undefined;
  if (!doc || !active || active === doc.body) return undefined;
  const [start, end] = selectionOf(active);
  return () => {
    if (doc.activeElement === active || !active.isConnected) return;
    active.focus({ preventScroll: true });
    select(active, start, end);
  };
}

/** A field's selection; nulls for elements without one (a type=number input, a button). */
function selectionOf(field: HTMLInputElement): [number | null, number | null] {
  try {
    return [field.selectionStart, field.selectionEnd];
  } catch {
    return [null, null];
  }
}

function select(field: HTMLInputElement, start: number | null, end: number | null): void {
  try {
    if (start !== null && end !== null) field.setSelectionRange(start, end);
  } catch {
    // No selection on this element type.
  }
}

/** Sets a live form property; keeps the caret of the field being typed in. */
export function setProperty(element: Element, name: string, value: unknown): void {
  if (name === 'checked' || name === 'selected') {
    (element as unknown as Record<string, boolean>)[name] = Boolean(value);
    return;
  }
  if (name !== 'value') throw new Error(`op 9: unsupported property '${name}'`);
  const field = element as HTMLInputElement;
  const text = value === null || value === undefined ? '' : String(value);
  const old = field.value;
  if (old === text) return;
  const [start, end] = element.ownerDocument.activeElement === element ? selectionOf(field) : [null, null];
  field.value = text;
  if (end === null) return;
  // When the text after the selection is unchanged (the server edited before it), keep the selection's
  // distance from the end, so a character the server removed or added does not push the caret around.
  const shift = text.endsWith(old.slice(end)) ? text.length - old.length : 0;
  const clamp = (n: number) => Math.max(0, Math.min(n + shift, text.length));
  select(field, clamp(start!), clamp(end));
}
