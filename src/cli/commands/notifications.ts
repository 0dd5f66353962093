import { NOTIFICATION_EVENTS } from '../../activities/notifications/templates.ts';
import {
  findNotificationIds,
  listNotifications,
  type NotificationStatus,
  requeueFailedNotifications,
} from '../../db/queries/notifications.ts';
import { formatBusinessTime } from '../../time.ts';
import { type Command, optionalString, positiveInt, table, UsageError } from '../command.ts';

const STATUSES: NotificationStatus[] = ['PENDING', 'SENT', 'FAILED'];
const EVENTS = Object.values(NOTIFICATION_EVENTS);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const notificationsListCommand: Command = {
  words: ['notifications', 'list'],
  summary: 'The notification outbox, newest first: status, attempts and the last error of each reminder.',
  options: {
    status: { type: 'string', placeholder: 'STATUS', description: 'PENDING, SENT or FAILED' },
    event: {
      type: 'string',
      placeholder: 'EVENT',
      description: 'class-reminder or pass-expiry',
      choices: EVENTS,
    },
    limit: { type: 'string', placeholder: 'N', description: 'How many (default 50)' },
  },
  async run({ values }, ctx) {
    const status = parseStatus(optionalString(values, 'status'));
    const event = optionalString(values, 'event');
    const limit = positiveInt(optionalString(values, 'limit'), 'limit', 50, 10_000);
    const db = await ctx.db();
    const rows = await listNotifications(db, { status, event, limit });
    const json = rows.map((r) => ({
      id: r.id,
      event: r.event,
      userId: r.user_id === null ? null : Number(r.user_id),
      status: r.status,
      channel: r.channel,
      attempts: r.attempts,
      dueAt: r.due_at,
      sentAt: r.sent_at,
      lastError: r.last_error,
    }));
    const tz = ctx.config.businessTimeZone;
    const shown = (instant: string | null) => (instant ? formatBusinessTime(new Date(instant), tz) : '');
    const text = json.length
      ? table(
          ['id', 'event', 'user', 'status', 'attempts', `due (${tz})`, `sent (${tz})`, 'last error'],
          json.map((n) => [
            n.id,
            n.event,
            n.userId,
            n.status,
            n.attempts,
            shown(n.dueAt),
            shown(n.sentAt),
            n.lastError,
          ]),
        )
      : 'no notifications';
    return { json, text };
  },
};

export const notificationsRetryCommand: Command = {
  words: ['notifications', 'retry'],
  args: '[<id>...]',
  summary: 'Put FAILED notifications back in the outbox once the cause is fixed; the next run sends them.',
  details: [
    'Give notification IDs, or --all-failed (optionally with --event). Only FAILED notifications change.',
    'A retried notification keeps its ID, so the receiver sees the same Idempotency-Key. Reminders that are',
    'no longer true when the next run delivers them (the class started, the pass ended) are not sent.',
  ].join('\n'),
  options: {
    'all-failed': { type: 'boolean', description: 'Every FAILED notification' },
    event: {
      type: 'string',
      placeholder: 'EVENT',
      description: 'With --all-failed: only this event',
      choices: EVENTS,
    },
  },
  async run({ values, positionals }, ctx) {
    const all = values['all-failed'] === true;
    const event = optionalString(values, 'event');
    if (all === positionals.length > 0)
      throw new UsageError('give notification IDs or --all-failed (not both)');
    if (event && !all) throw new UsageError('--event only goes with --all-failed');
    const bad = positionals.find((id) => !UUID_RE.test(id));
    if (bad) throw new UsageError(`'${bad}' is not a notification ID (a UUID)`);
    const db = await ctx.db();
    if (!all) {
      const known = new Set(await findNotificationIds(db, positionals));
      const unknown = positionals.find((id) => !known.has(id.toLowerCase()));
      if (unknown) throw new UsageError(`no notification ${unknown} (see \`ptpass notifications list\`)`);
    }
    const requeued = await requeueFailedNotifications(db, all ? { event } : { ids: positionals });
    return {
      json: { requeued },
      text: `${requeued} FAILED notification${requeued === 1 ? '' : 's'} back in the outbox; the next class-reminders run delivers them`,
    };
  },
};

function parseStatus(text: string | undefined): NotificationStatus | undefined {
  if (text === undefined) return undefined;
  const status = text.toUpperCase() as NotificationStatus;
  if (!STATUSES.includes(status))
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')} (got '${text}')`);
  return status;
}
