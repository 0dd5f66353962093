import type { NotifyConfig } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type { NotificationChannel } from './channel.ts';
import { createLogChannel } from './log-channel.ts';
import type { Locale } from './templates.ts';
import { createWebhookChannel } from './webhook-channel.ts';

/**
 * Everything the notification steps need to send: the channel, how many deliveries may be in flight, the
 * retry policy, and how to render (locale, business time zone). Injected through `ActivityDeps.notifier`.
 */
export interface Notifier {
  channel: NotificationChannel;
  /** Deliveries in flight at once within a step. */
  concurrency: number;
  retry: RetryPolicy;
  locale: Locale;
  /** Class times and end dates are shown in this zone. */
  timeZone: string;
}

export interface RetryPolicy {
  /** Attempts per notification, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; doubled for each further one (capped at 30 s, or Retry-After). */
  backoffMs: number;
  /** Bound on each attempt. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, backoffMs: 500, timeoutMs: 5000 };
export const DEFAULT_CONCURRENCY = 8;

/** The notifier the configuration asks for. */
export function createNotifier(config: NotifyConfig, timeZone: string, logger: Logger): Notifier {
  return {
    channel: createChannel(config, logger),
    concurrency: config.concurrency,
    retry: { maxAttempts: config.maxAttempts, backoffMs: config.retryBackoffMs, timeoutMs: config.timeoutMs },
    locale: config.locale,
    timeZone,
  };
}

function createChannel(config: NotifyConfig, logger: Logger): NotificationChannel {
  switch (config.channel) {
    case 'log':
      return createLogChannel(logger);
    case 'webhook':
      if (!config.webhook)
        throw new Error('NOTIFY_CHANNEL=webhook needs NOTIFY_WEBHOOK_URL and NOTIFY_WEBHOOK_SECRET');
      return createWebhookChannel(config.webhook);
  }
}

/** The log channel with default settings: what a worker without explicit notification wiring uses. */
export function createLogNotifier(
  logger: Logger,
  options: Partial<Omit<Notifier, 'channel'>> = {},
): Notifier {
  return {
    channel: createLogChannel(logger),
    concurrency: DEFAULT_CONCURRENCY,
    retry: DEFAULT_RETRY,
    locale: 'ko',
    timeZone: 'Asia/Seoul',
    ...options,
  };
}
