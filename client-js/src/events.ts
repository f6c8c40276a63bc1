// Event delegation: one listener per event name at the document finds the elements carrying `t-<event>`
// between the target and the document, and reports each to the server until one asks to stop propagation.
// Flags come from the attribute (`ID:p` preventDefault, `ID:s` stopPropagation) and are applied synchronously,
// as the browser requires. Input-like events may be rate limited per element with `t-debounce`/`t-throttle`;
// any other event first flushes pending rate-limited sends so the server sees events in the order they
// happened (the last typed value arrives before the submit).
import { DEBOUNCE_ATTRIBUTE, EVENT_ATTRIBUTE_PREFIX, EVENT_NAMES, THROTTLE_ATTRIBUTE, type EventName } from './protocol';

/**
 * Sends one event to the server. With `confirm` (`input` and `change` of a field) it may return a promise that
 * settles once the server has processed the event (after the render batch the event caused).
 */
export type EventSink = (handlerId: number, eventName: EventName, eventArgs: object, confirm: boolean) => unknown;

const NON_BUBBLING = new Set<string>(['focus', 'blur', 'mouseenter', 'mouseleave', 'scroll']);
const RATE_LIMITED = new Set<string>(['input', 'keydown', 'keyup', 'keypress', 'mousemove', 'scroll']);

/** Reads `ID` or `ID:FLAGS`; undefined for anything else. */
export function parseBinding(value: string | null): { handlerId: number; prevent: boolean; stop: boolean } | undefined {
  const match = value ? /^(\d+)(?::([ps]*))?$/.exec(value.trim()) : null;
  if (!match) return undefined;
  const flags = match[2] ?? '';
  return { handlerId: Number(match[1]), prevent: flags.includes('p'), stop: flags.includes('s') };
}

/** The `eventArgs` of section 7 of the protocol for a browser event reported on `element`. */
export function eventArgs(name: EventName, event: Event, element: Element): object {
  switch (name) {
    case 'input':
    case 'change':
      return fieldArgs(fieldOf(element, event.target));
    case 'submit':
      return { fields: formFields(element as HTMLFormElement) };
    case 'keydown':
    case 'keyup':
    case 'keypress':
      return pick(event, 'key code repeat location');
    case 'focus':
    case 'blur':
      return {};
    case 'scroll':
      return scrollArgs(element);
    case 'upload':
      // The upload module's description of the chosen files.
      return (event as CustomEvent).detail;
    default:
      return pick(event, 'clientX clientY offsetX offsetY button buttons detail');
  }
}

/** The named properties of `event` (space-separated), plus the modifier keys. */
function pick(event: Event, names: string): object {
  const e = event as unknown as Record<string, unknown>;
  return Object.fromEntries(`${names} altKey ctrlKey shiftKey metaKey`.split(' ').map((name) => [name, e[name]]));
}

/** Scroll position and size; with `t-measure`, the count and summed height of the children between the first and last. */
function scrollArgs(element: Element): object {
  const { scrollTop, clientHeight, scrollHeight, children } = element;
  const rows = Array.prototype.slice.call(children, 1, -1) as HTMLElement[];
  const measured = element.hasAttribute('t-measure') ? [rows.length, rows.reduce((sum, row) => sum + row.offsetHeight, 0)] : undefined;
  return { scrollTop, clientHeight, scrollHeight, measured };
}

function fieldOf(element: Element, target: EventTarget | null): HTMLInputElement | null {
  const field = ('value' in element ? element : target) as HTMLInputElement | null;
  return field && 'value' in field ? field : null;
}

function fieldArgs(field: HTMLInputElement | null): object {
  if (!field) return { value: '' };
  const args: { value: string; checked?: boolean; values?: string[] } = { value: String(field.value) };
  if (field.type === 'checkbox' || field.type === 'radio') args.checked = field.checked;
  const select = field as unknown as HTMLSelectElement;
  if (select.tagName === 'SELECT' && select.multiple) args.values = Array.from(select.selectedOptions, (o) => o.value);
  return args;
}

function formFields(form: HTMLFormElement): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  if (form.tagName !== 'FORM') return fields;
  // The form's own window's FormData, so this also works in a test DOM.
  const Data = form.ownerDocument.defaultView?.FormData ?? FormData;
  for (const [name, value] of new Data(form)) {
    if (typeof value !== 'string') continue;
    const seen = fields[name];
    fields[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return fields;
}

interface PendingSend {
  /** The latest event to send, if one waits. */
  send?: () => void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Listens at the document and turns bound DOM events into server events. It also counts, per field, the
 * `input`/`change` events the server has not confirmed yet: a value the server rendered while a newer one was
 * on its way is stale (applying it would undo typing), and the server answers the newer one anyway.
 */
export class EventDelegator {
  readonly #pending = new Map<string, PendingSend>();
  readonly #unconfirmed = new WeakMap<Element, number>();
  readonly #limiters = new WeakMap<Element, Map<string, PendingSend>>();
  readonly #listener = (event: Event) => this.#handle(event);

  readonly #doc: Document;
  readonly #sink: EventSink;

  constructor(doc: Document, sink: EventSink) {
    this.#doc = doc;
    this.#sink = sink;
  }

  /** Starts listening. */
  attach(): void {
    for (const name of EVENT_NAMES) this.#doc.addEventListener(name, this.#listener, NON_BUBBLING.has(name));
  }

  /** Stops listening and drops pending rate-limited sends. */
  detach(): void {
    for (const name of EVENT_NAMES) this.#doc.removeEventListener(name, this.#listener, NON_BUBBLING.has(name));
    for (const state of this.#pending.values()) {
      clearTimeout(state.timer);
      state.send = undefined;
    }
    this.#pending.clear();
  }

  /** Whether a value the server rendered for `field` predates a newer one the browser has sent. */
  isStale(field: Element): boolean {
    return (this.#unconfirmed.get(field) ?? 0) > 1;
  }

  /** Sends every pending debounced or throttled event now, oldest first. */
  flush(): void {
    for (const [key, limiter] of [...this.#pending]) this.#release(key, limiter);
  }

  #handle(event: Event): void {
    const name = event.type as EventName;
    const attribute = EVENT_ATTRIBUTE_PREFIX + name;
    let node = event.target as Node | null;
    if (node && node.nodeType !== 1) node = node.parentNode;
    for (let element = node as Element | null; element && element.nodeType === 1; element = element.parentElement) {
      const binding = parseBinding(element.getAttribute(attribute));
      if (binding) {
        // A form submit would unload the page and with it the circuit.
        if (binding.prevent || name === 'submit') event.preventDefault();
        if (binding.stop) event.stopPropagation();
        this.#report(element, name, event, binding.handlerId);
        if (binding.stop) return;
      }
      if (NON_BUBBLING.has(name)) return;
    }
  }

  #report(element: Element, name: EventName, event: Event, handlerId: number): void {
    const args = eventArgs(name, event, element);
    const field = (name === 'input' || name === 'change') && fieldOf(element, event.target);
    const send = () => {
      const confirmed = this.#sink(handlerId, name, args, !!field);
      if (field && confirmed instanceof Promise) {
        const count = (delta: number) => this.#unconfirmed.set(field, (this.#unconfirmed.get(field) ?? 0) + delta);
        count(1);
        confirmed.then(() => count(-1), () => count(-1));
      }
    };
    const debounce = RATE_LIMITED.has(name) ? Number(element.getAttribute(DEBOUNCE_ATTRIBUTE)) : 0;
    const throttle = RATE_LIMITED.has(name) ? Number(element.getAttribute(THROTTLE_ATTRIBUTE)) : 0;
    if (!(debounce > 0) && !(throttle > 0)) {
      this.flush();
      send();
      return;
    }
    let perElement = this.#limiters.get(element);
    if (!perElement) this.#limiters.set(element, (perElement = new Map()));
    let state = perElement.get(name);
    if (!state) perElement.set(name, (state = {}));
    const key = `${handlerId}:${name}`;
    const limiter = state;
    // Re-inserting keeps the pending map in the order the latest events happened.
    this.#pending.delete(key);
    if (debounce > 0) {
      clearTimeout(limiter.timer);
      limiter.send = send;
      this.#pending.set(key, limiter);
      limiter.timer = setTimeout(() => this.#release(key, limiter), debounce);
      return;
    }
    if (limiter.timer === undefined) {
      // Throttle: the first event goes at once and opens a window; the last one inside it goes when it closes.
      send();
      const tick = () => {
        if (limiter.send) {
          this.#release(key, limiter);
          limiter.timer = setTimeout(tick, throttle);
        } else limiter.timer = undefined;
      };
      limiter.timer = setTimeout(tick, throttle);
    } else {
      limiter.send = send;
      this.#pending.set(key, limiter);
    }
  }

  #release(key: string, limiter: PendingSend): void {
    this.#pending.delete(key);
    const send = limiter.send;
    limiter.send = undefined;
    send?.();
  }
}
