import { createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AttemptResult, NotificationChannel, OutgoingNotification } from './channel.ts';

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
 * retryable; any other status (redirects included) is a rejection that no retry will fix.
 *
 * node:http with a keep-alive agent rather than fetch: at thousands of reminders per run fetch's
 * per-request overhead was the bottleneck (README "Notifications").
 */
export function createWebhookChannel(options: { url: string; secret: string }): NotificationChannel {
  const url = new URL(options.url);
  const secure = url.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const send = secure ? httpsRequest : httpRequest;
  // Parsed once: passing the URL made node:http convert it again for every request.
  const target = {
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || undefined,
    path: `${url.pathname}${url.search}`,
    ...(url.username
      ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` }
      : {}),
  };
  return {
    name: 'webhook',
    attempt(notification, signal) {
      const body = webhookBody(notification);
      return new Promise<AttemptResult>((resolve) => {
        // One abort listener that destroys the request, rather than node:http's `signal` option, which
        // also watches the request stream's end (~10 µs of each delivery in the worker's CPU profile).
        let onAbort: (() => void) | undefined;
        const settle = (result: AttemptResult) => {
          if (onAbort) signal.removeEventListener('abort', onAbort);
          resolve(result);
        };
        const failed = (err: unknown) =>
          settle({ ok: false, retryable: true, reason: describeNetworkError(err, signal) });
        if (signal.aborted) return failed(signal.reason);
        const req = send(
          {
            ...target,
            method: 'POST',
            agent,
            headers: {
              'Content-Type': 'application/json; charset=utf-8',
              'Content-Length': Buffer.byteLength(body),
              [SIGNATURE_HEADER]: signBody(body, options.secret),
              [IDEMPOTENCY_HEADER]: notification.id,
            },
          },
          (res) => {
            let detail = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              if (detail.length < 200) detail += chunk;
            });
            res.on('error', failed);
            res.on('end', () => settle(classify(res.statusCode ?? 0, res.headers, detail)));
          },
        );
        onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        req.on('error', failed);
        req.end(body);
      });
    },
  };
}

function classify(status: number, headers: IncomingHttpHeaders, text: string): AttemptResult {
  if (status >= 200 && status < 300) return { ok: true };
  const detail = text.slice(0, 200).replace(/\s+/g, ' ').trim();
  const reason = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 429 || status >= 500) {
    return { ok: false, retryable: true, reason, retryAfterMs: retryAfterMs(headers['retry-after']) };
  }
  return { ok: false, retryable: false, reason };
}

function describeNetworkError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const why = signal.reason;
    return (why as { name?: string } | undefined)?.name === 'TimeoutError' ? 'timed out' : 'aborted';
  }
  const code = (err as { code?: string }).code;
  return `network error: ${code ?? (err instanceof Error ? err.message : String(err))}`;
}

function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
