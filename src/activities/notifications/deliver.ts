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
    const result = await attemptWithin(channel, notification, retry.timeoutMs, cancel);
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
 * One attempt, bounded by the per-request timeout and by the step's cancellation: the channel gets a
 * signal aborted at either, and the attempt resolves then ('timed out' or 'aborted', retryable) even if
 * the channel does not honour the signal. One controller, one timer and one listener on `cancel` per
 * attempt, all released when it settles: `AbortSignal.any` with the step's long-lived signal kept every
 * attempt's signal (and what hung on it) alive for the whole step on Node 20, and a second promise raced
 * against the attempt, with its own abort listener, cost ~8 µs of a delivery's ~125 µs of worker CPU
 * (README "Performance").
 */
function attemptWithin(
  channel: NotificationChannel,
  notification: OutgoingNotification,
  timeoutMs: number,
  cancel: AbortSignal,
): Promise<AttemptResult> {
  return new Promise<AttemptResult>((resolve, reject) => {
    const controller = new AbortController();
    let settled = false;
    const settle = (outcome: { result: AttemptResult } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
      if ('result' in outcome) resolve(outcome.result);
      else reject(outcome.error);
    };
    const stop = (reason: unknown, why: string) => {
      controller.abort(reason);
      settle({ result: { ok: false, retryable: true, reason: why } });
    };
    const onCancel = () => stop(cancel.reason, 'aborted');
    const timer = setTimeout(
      () => stop(new DOMException('attempt timed out', 'TimeoutError'), 'timed out'),
      timeoutMs,
    );
    if (cancel.aborted) return onCancel();
    cancel.addEventListener('abort', onCancel, { once: true });
    channel.attempt(notification, controller.signal).then(
      (result) => settle({ result }),
      (error: unknown) => settle({ error }),
    );
  });
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
