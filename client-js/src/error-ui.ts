// The error bar shown when the circuit ends on an unhandled error (`T.Error`): the page's own element with id
// `tether-error-ui` if it has one (shown by removing `hidden` and adding the class `tether-error-ui-show`), else a
// built-in bar with the same id, styled by assets/tether-error.css. Inside it, `.reload` reloads the page and
// `.dismiss` hides the bar; the server's message goes into `.tether-error-message` when there is one.

/** Shows the error bar with `message`. */
export function showErrorUi(doc: Document, message: string): void {
  let bar = doc.getElementById('tether-error-ui');
  if (!bar) {
    doc.body.insertAdjacentHTML(
      'beforeend',
      `<div id="tether-error-ui" role="alert"><style>${__TETHER_ERROR_CSS__}</style>An unhandled error has occurred. ` +
        '<span class="tether-error-message"></span> <a href="" class="reload">Reload</a> <button type="button" class="dismiss" aria-label="Dismiss">✕</button></div>',
    );
    bar = doc.body.lastElementChild as HTMLElement;
  }
  const text = bar.querySelector('.tether-error-message');
  if (text) text.textContent = message;
  bar.hidden = false;
  bar.classList.add('tether-error-ui-show');
  bar.querySelector<HTMLElement>('.reload')?.addEventListener('click', (event) => {
    event.preventDefault();
    doc.defaultView!.location.reload();
  });
  bar.querySelector<HTMLElement>('.dismiss')?.addEventListener('click', () => {
    bar.hidden = true;
    bar.classList.remove('tether-error-ui-show');
  });
}
