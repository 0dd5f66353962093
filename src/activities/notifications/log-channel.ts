import type { Logger } from '../../logger.ts';
import type { NotificationChannel } from './channel.ts';

/**
 * The default channel: the rendered message is recorded in the notification row (the outbox does that for
 * every channel) and a log line names the notification. The log line carries IDs only, never the text.
 */
export function createLogChannel(logger: Logger): NotificationChannel {
  return {
    name: 'log',
    async attempt(notification) {
      logger.info('notification delivered to the log channel', {
        notificationId: notification.id,
        event: notification.event,
        userId: notification.recipient.userId,
      });
      return { ok: true };
    },
  };
}
