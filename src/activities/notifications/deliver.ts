import type { AttemptResult, NotificationChannel, OutgoingNotification } from './channel.ts';
import type { RetryPolicy } from './notifier.ts';

/**
 * Sending, the same for every channel: each attempt is bounded by the per-request timeout, failures worth
 * retrying are retried with exponential backoff, and a page of notifications is sent with at most
 * `concurrency` deliveries in flight.
 */

export interface DeliveryOutcome {
  status: 'SENT' | 'FAILED';
  attempts: number;
  error: string | null;
}

const MAX_BACKOFF_MS = 30_000;

export class DeliveryAbortedError extends Error {
  override name = 'DeliveryAborted';
}

/**
 * Delivers one notification: SENT on the first accepted attempt; FAILED on a rejection (not retried) or
 * when the attempts run out. Throws only when `cancel` fires, so a cancelled step records nothing.
 */
export async function deliverWithRetries(
  channel: NotificationChannel,
  notification: OutgoingNotification,
  retry: RetryPolicy,
  cancel: AbortSignal,
): Promise<DeliveryOutcome> {
  for (let attempt = 1; ; attempt++) {
    if (cancel.aborted) throw new DeliveryAbortedError('delivery cancelled');
    const { signal, dispose } = attemptSignal(retry.timeoutMs, cancel);
    let result: AttemptResult;
    try {
      result = await boundedBy(channel.attempt(notification, signal), signal);
    } finally {
      dispose();
    }
    if (cancel.aborted) throw new DeliveryAbortedError('delivery cancelled');
    if (result.ok) return { status: 'SENT', attempts: attempt, error: null };
    if (!result.retryable)
      return { status: 'FAILED', attempts: attempt, error: `rejected: ${result.reason}` };
    if (attempt >= retry.maxAttempts) {
      return {
        status: 'FAILED',
        attempts: attempt,
        error: `gave up after ${attempt} attempts: ${result.reason}`,
      };
    }
    const backoff = Math.min(retry.backoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
    await sleep(Math.min(Math.max(backoff, result.retryAfterMs ?? 0), MAX_BACKOFF_MS), cancel);
  }
}

/**
 * A channel is expected to honour the signal; this makes sure a channel that does not cannot hold a
 * delivery past its timeout either.
 */
function boundedBy(attempt: Promise<AttemptResult>, signal: AbortSignal): Promise<AttemptResult> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<AttemptResult>((resolve) => {
    onAbort = () => {
      const timedOut = (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
      resolve({ ok: false, retryable: true, reason: timedOut ? 'timed out' : 'aborted' });
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([attempt, aborted]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

/**
 * One attempt's signal: aborted at the per-request timeout or when the step is cancelled. Built from a
 * plain controller and removed from `cancel` afterwards — `AbortSignal.any` with the step's long-lived
 * signal kept every attempt's signal (and what hung on it) alive for the whole step on Node 20.
 */
function attemptSignal(timeoutMs: number, cancel: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('attempt timed out', 'TimeoutError')),
    timeoutMs,
  );
  const onCancel = () => controller.abort(cancel.reason);
  if (cancel.aborted) onCancel();
  else cancel.addEventListener('abort', onCancel, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    },
  };
}

function sleep(ms: number, cancel: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || cancel.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      cancel.removeEventListener('abort', done);
      resolve();
    }
    cancel.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. On the first error no further item starts,
 * the calls in flight finish, and the error is thrown: nothing is sent after the caller has given up on the
 * page. Consumes `items`: each slot is cleared as a lane takes it, so a finished item can be collected
 * while the rest are still in flight.
 */
export async function forEachBounded<T>(
  items: Array<T | undefined>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      const item = items[index] as T;
      items[index] = undefined;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.error;
}
