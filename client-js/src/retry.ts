// Retry timing for the built-in reconnection loop: which delay comes before each attempt, and a wait that a tab
// becoming visible again cuts short (someone is looking at the page now, so rejoin at once).
import { isDelay, type ReconnectionOptions } from './options';

/** A numeric interval is capped at this for the first attempt, so a long fixed interval still rejoins quickly. */
export const FIRST_RETRY_CAP_MS = 3000;

/** The default backoff: 0 ms for the first 10 attempts, 5 s up to attempt 20, then 30 s. */
export function defaultRetryInterval(previousAttempts: number, maxRetries: number): number | null {
  if (previousAttempts >= maxRetries) return null;
  if (previousAttempts < 10) return 0;
  if (previousAttempts < 20) return 5000;
  return 30000;
}

/**
 * The delay before the attempt that follows `previousAttempts` failed ones, or null to stop retrying.
 * A function interval alone decides when to stop (it receives `maxRetries`); numbers and the default stop at
 * `maxRetries`. A function result that is not a delay is reported and replaced by the default backoff.
 */
export function retryDelay(options: ReconnectionOptions, previousAttempts: number, report: (message: string) => void = () => {}): number | null {
  const { retryIntervalMilliseconds: interval, maxRetries } = options;
  if (typeof interval === 'function') {
    let value: unknown;
    try {
      value = interval(previousAttempts, maxRetries);
    } catch (error) {
      report(`reconnectionOptions.retryIntervalMilliseconds threw for attempt ${previousAttempts + 1}: ${(error as Error)?.message}; retries stop`);
      return null;
    }
    if (value === null || value === undefined) return null;
    if (isDelay(value)) return value;
    report(`reconnectionOptions.retryIntervalMilliseconds returned ${String(value)} for attempt ${previousAttempts + 1}; expected milliseconds >= 0, null or undefined. Using the default backoff.`);
    return defaultRetryInterval(previousAttempts, Number.POSITIVE_INFINITY);
  }
  if (typeof interval === 'number') {
    if (previousAttempts >= maxRetries) return null;
    return previousAttempts === 0 ? Math.min(interval, FIRST_RETRY_CAP_MS) : interval;
  }
  return defaultRetryInterval(previousAttempts, maxRetries);
}

/** Settles after `ms`, when the tab becomes visible again, or when `signal` aborts; calls `tick` each second with the seconds left. */
export function waitForRetry(ms: number, signal: AbortSignal, tick: (secondsLeft: number) => void = () => {}): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) {
      resolve();
      return;
    }
    let left = ms;
    const finish = () => {
      clearTimeout(timer);
      clearInterval(ticker);
      document.removeEventListener('visibilitychange', onVisibility);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const onVisibility = () => {
      if (document.visibilityState === 'visible') finish();
    };
    const timer = setTimeout(finish, ms);
    const ticker = setInterval(() => tick(Math.max(0, Math.ceil((left -= 1000) / 1000))), 1000);
    document.addEventListener('visibilitychange', onVisibility);
    signal.addEventListener('abort', finish);
  });
}
