// What the user sees while the connection is down. Two displays share one contract:
// - the page's own modal (an element with the configured dialog id, first one only): we only toggle the
//   documented `components-reconnect-*` classes and fill the text slots, the page owns the looks;
// - otherwise a built-in dialog with our texts and the styles from assets/tether-reconnect.css.
// Both dispatch `components-reconnect-state-changed` (bubbling) on their element with
// `{state, currentAttempt, secondsToNextAttempt}`.

/** States announced in `components-reconnect-state-changed`. */
export type ReconnectState = 'show' | 'retrying' | 'failed' | 'rejected' | 'hide' | 'connectionslow' | 'paused' | 'resume-failed';

/** Draws the reconnection state. */
export interface ReconnectDisplay {
  update(state: ReconnectState, currentAttempt: number, secondsToNextAttempt: number): void;
}

export const STATE_CHANGED_EVENT = 'components-reconnect-state-changed';
export const SLOW_CLASS = 'components-reconnect-slow';
const STATE_CLASSES = ['show', 'hide', 'retrying', 'failed', 'rejected', 'paused', 'resume-failed'].map((s) => `components-reconnect-${s}`);


function announce(element: Element, state: ReconnectState, currentAttempt: number, secondsToNextAttempt: number): void {
  element.dispatchEvent(new CustomEvent(STATE_CHANGED_EVENT, { bubbles: true, detail: { state, currentAttempt, secondsToNextAttempt } }));
}

/** Drives the page's own modal through the documented classes and text slots. */
export class UserModalDisplay implements ReconnectDisplay {
  readonly #modal: HTMLElement;
  readonly #maxRetries: number;

  constructor(modal: HTMLElement, maxRetries: number) {
    this.#modal = modal;
    this.#maxRetries = maxRetries;
  }

  update(state: ReconnectState, currentAttempt: number, secondsToNextAttempt: number): void {
    const classes = this.#modal.classList;
    if (state === 'connectionslow') classes.add(SLOW_CLASS);
    else {
      classes.remove(SLOW_CLASS, ...STATE_CLASSES);
      // `retrying` comes on top of `show`, so CSS written for show keeps the modal visible between attempts.
      if (state === 'retrying') classes.add('components-reconnect-show');
      classes.add(`components-reconnect-${state}`);
    }
    this.#fill('components-reconnect-current-attempt', currentAttempt);
    this.#fill('components-reconnect-max-retries', this.#maxRetries);
    this.#fill('components-seconds-to-next-attempt', secondsToNextAttempt);
    announce(this.#modal, state, currentAttempt, secondsToNextAttempt);
  }

  #fill(id: string, value: number): void {
    const slot = document.getElementById(id);
    if (slot) slot.textContent = String(value);
  }
}

/** Our own dialog, built on first use. */
export class BuiltInDialogDisplay implements ReconnectDisplay {
  #root?: HTMLElement;
  #message?: HTMLElement;
  #button?: HTMLButtonElement;

  readonly #maxRetries: number;
  readonly #retry: () => Promise<boolean>;
  readonly #reload: () => void;

  constructor(maxRetries: number, retry: () => Promise<boolean>, reload: () => void = () => location.reload()) {
    this.#maxRetries = maxRetries;
    this.#retry = retry;
    this.#reload = reload;
  }

  update(state: ReconnectState, currentAttempt: number, secondsToNextAttempt: number): void {
    const root = this.#ensure();
    const classes = root.classList;
    let text = '';
    this.#button!.hidden = state !== 'failed';
    if (state === 'connectionslow') {
      classes.add('tether-slow');
      if (!classes.contains('tether-visible')) text = 'The connection to the server is slow…';
    } else {
      classes.remove('tether-slow');
      classes.toggle('tether-visible', state !== 'hide');
      const of = currentAttempt > 0 ? ` (attempt ${currentAttempt} of ${this.#maxRetries})` : '';
      if (state === 'show' || state === 'retrying') {
        text = secondsToNextAttempt > 0
          ? `${state === 'show' ? 'The connection was lost.' : 'Still no connection.'} Next try in ${secondsToNextAttempt} s${of}.`
          : `The connection was lost. Rejoining the server…${of}`;
      } else if (state === 'failed') {
        text = 'Could not rejoin the server. Check your network, then try again.';
      } else if (state === 'paused') {
        text = 'This page is paused. Call Tether.resume() to continue.';
      } else if (state === 'rejected' || state === 'resume-failed') {
        text = 'This page’s session has ended on the server. Reloading…';
        this.#reload();
      }
    }
    if (text) this.#message!.textContent = text;
    announce(root, state, currentAttempt, secondsToNextAttempt);
  }

  #ensure(): HTMLElement {
    if (this.#root) return this.#root;
    document.body.insertAdjacentHTML(
      'beforeend',
      '<div id="tether-reconnect" class="tether-reconnect" role="alertdialog" aria-live="assertive">' +
        `<style>${__TETHER_CSS__}</style><div class="tether-reconnect-box"><p></p>` +
        '<button type="button" class="tether-reconnect-button" hidden>Try again</button></div></div>',
    );
    const root = document.body.lastElementChild as HTMLElement;
    this.#message = root.querySelector('p')!;
    this.#button = root.querySelector('button')!;
    this.#button.onclick = () => {
      this.update('show', 0, 0);
      this.#retry().then(
        (rejoined) => rejoined || this.update('rejected', 0, 0),
        () => this.update('failed', 0, 0),
      );
    };
    this.#root = root;
    return root;
  }
}

/** The page's modal when it has one (first element with the id), else the built-in dialog. */
export function createDisplay(dialogId: string, maxRetries: number, retry: () => Promise<boolean>): ReconnectDisplay {
  const modal = document.getElementById(dialogId);
  return modal ? new UserModalDisplay(modal, maxRetries) : new BuiltInDialogDisplay(maxRetries, retry);
}
