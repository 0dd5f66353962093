/**
 * The one interface every delivery channel implements. A channel makes ONE attempt to hand one rendered
 * notification to its provider and says how it went; retries, backoff, the per-request timeout and the
 * bound on deliveries in flight are the outbox's job (deliver.ts), the same for every channel.
 *
 * Adding a provider (a KakaoTalk AlimTalk sender, SMS, e-mail) is one more file exporting a function that
 * returns a `NotificationChannel`, plus one case in notifier.ts.
 */

export interface Recipient {
  userId: number | null;
  name: string | null;
  phone: string | null;
  /** For operator alerts: the address from OPERATOR_ALERT_TO (members are reached by userId/phone). */
  address?: string;
}

export interface OutgoingNotification {
  /** The notification's UUID: the idempotency key every attempt carries, so a provider can drop repeats. */
  id: string;
  event: string;
  locale: string;
  recipient: Recipient;
  /** The rendered message text. */
  text: string;
  /** IDs the notification is about (booking, pass, milestone). */
  subject: Record<string, string | number>;
}

/** The outcome of one attempt. Expected failures are values; a channel throws only on a bug. */
export type AttemptResult =
  | { ok: true }
  | {
      ok: false;
      /** Network errors, timeouts, 5xx and 429 are worth another attempt; a rejected request is not. */
      retryable: boolean;
      reason: string;
      /** The provider asked to wait this long before the next attempt (Retry-After). */
      retryAfterMs?: number;
    };

export interface NotificationChannel {
  /** Recorded in `notifications.channel`. */
  readonly name: string;
  /** One delivery attempt. `signal` aborts it at the per-request timeout or when the step is cancelled. */
  attempt(notification: OutgoingNotification, signal: AbortSignal): Promise<AttemptResult>;
}
