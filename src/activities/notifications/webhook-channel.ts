import { createHmac } from 'node:crypto';
import type { NotificationChannel, OutgoingNotification } from './channel.ts';

export const SIGNATURE_HEADER = 'X-Ptpass-Signature';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** `sha256=<hex HMAC-SHA256 of the raw request body>`, what the receiver recomputes to verify a request. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * The request body. It holds nothing time-dependent, so every attempt for one notification sends the same
 * bytes with the same signature and idempotency key.
 */
export function webhookBody(n: OutgoingNotification): string {
  return JSON.stringify({
    id: n.id,
    event: n.event,
    locale: n.locale,
    recipient: n.recipient,
    message: n.text,
    subject: n.subject,
  });
}

/**
 * POSTs each notification as JSON to one URL, signed with HMAC-SHA256 over the raw body, with the
 * notification's UUID as `Idempotency-Key`. 2xx is delivered; network errors, timeouts, 5xx and 429 are
 * retryable; any other status is a rejection that no retry will fix.
 */
export function createWebhookChannel(options: { url: string; secret: string }): NotificationChannel {
  return {
    name: 'webhook',
    async attempt(notification, signal) {
      const body = webhookBody(notification);
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json; charset=utf-8',
            [SIGNATURE_HEADER]: signBody(body, options.secret),
            [IDEMPOTENCY_HEADER]: notification.id,
          },
          body,
          signal,
          redirect: 'error',
        });
      } catch (err) {
        return { ok: false, retryable: true, reason: describeNetworkError(err, signal) };
      }
      // Read (and drop) the body so the connection goes back to the pool.
      const detail = (await response.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ').trim();
      if (response.ok) return { ok: true };
      const reason = `HTTP ${response.status}${detail ? `: ${detail}` : ''}`;
      if (response.status === 429 || response.status >= 500) {
        return { ok: false, retryable: true, reason, retryAfterMs: retryAfterMs(response.headers) };
      }
      return { ok: false, retryable: false, reason };
    },
  };
}

function describeNetworkError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const why = signal.reason;
    return (why as { name?: string } | undefined)?.name === 'TimeoutError' ? 'timed out' : 'aborted';
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return `network error: ${cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))}`;
}

function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
