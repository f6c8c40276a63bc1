// Pauses the circuit when the page stays hidden for a while (the `pauseWhenHiddenMs` start option, off by
// default): a tab left in the background hands its state to the server's store and holds no server
// memory, and it resumes, in place, as soon as it is shown again. A pause that finishes after the page came
// back is resumed at once, so a visible page never stays paused by this.

/** What auto-pause needs of the circuit. */
export interface Pausable {
  pause(): Promise<boolean>;
  resume(): Promise<boolean>;
}

/** Watches `doc`'s visibility; returns a function that stops watching. */
export function pauseWhenHidden(doc: Document, afterMs: number, circuit: Pausable): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let paused: Promise<boolean> | undefined;
  const visible = () => doc.visibilityState !== 'hidden';
  const resume = async () => {
    const pausing = paused;
    paused = undefined;
    if (pausing && (await pausing)) await circuit.resume();
  };
  const onChange = () => {
    clearTimeout(timer);
    if (visible()) {
      void resume();
      return;
    }
    timer = setTimeout(() => {
      paused = circuit.pause();
      // Shown again while the pause was on its way: resume once it is done.
      void paused.then(() => {
        if (visible()) void resume();
      });
    }, afterMs);
  };
  doc.addEventListener('visibilitychange', onChange);
  return () => {
    clearTimeout(timer);
    doc.removeEventListener('visibilitychange', onChange);
  };
}
