import type { NotificationChannel } from '../../src/activities/notifications/channel.ts';
import { forEachBounded } from '../../src/activities/notifications/deliver.ts';
import { renderMessage } from '../../src/activities/notifications/templates.ts';
import { createWebhookChannel } from '../../src/activities/notifications/webhook-channel.ts';
import type { BenchJob } from '../jobs.ts';
import {
  BENCH_TIME_ZONE,
  type BenchReceiver,
  fmt,
  referenceSessions,
  startReceiverProcess,
} from '../support.ts';

/**
 * `class-reminders`: 50,000 READY bookings (scale 1) whose class starts in (T, T + 10 min], members ACTIVE,
 * two bookings to a member. Around them, one booking in ten the job must leave alone: a class that started
 * at T, one starting at T + 11 min, a cancelled booking in the window. The item is the booking; its key is
 * the booking id.
 *
 * Every arm sends to the same receiver, a real HTTP server in its own process (bench/receiver.ts), through
 * the production webhook channel (signed body, Idempotency-Key = notification id). The check: every
 * booking in the window has exactly one notification, SENT after one attempt with the same message in every
 * arm, and the receiver's distinct keys are exactly the SENT notifications' ids.
 */

const MINUTE = 60_000;
const SECRET = 'bench-receiver-secret-0123456789';
/**
 * Requests in flight, in the limit arm and (NOTIFY_CONCURRENCY) in the worker. Measured on the 2-core
 * machine, one sender process to the receiver process with nothing else: 16 in flight 2,400/s, 64 3,200/s,
 * 128 3,700/s; the ptpass arm at 20,000 reminders did 1,300-2,000/s with 128 and 1,450-1,550/s with 64.
 * A worker setting only the notification steps read: no other benchmarked job sends anything.
 * BENCH_NOTIFY_CONCURRENCY overrides the worker's for a measurement.
 */
const LIMIT_CONCURRENCY = 128;
export const BENCH_NOTIFY_CONCURRENCY = Number(process.env.BENCH_NOTIFY_CONCURRENCY ?? 128);

/** The end of the reminder window (T, T + 10 min]. */
const windowEnd = (asOf: Date) => new Date(asOf.getTime() + 10 * MINUTE);

/** T of the seeded data set: the fingerprint checks the bookings in its window. */
let seededAsOf: Date | undefined;

let receiver: BenchReceiver | undefined;
let channel: NotificationChannel | undefined;

function webhook(): { receiver: BenchReceiver; channel: NotificationChannel } {
  if (!receiver || !channel) throw new Error('class-reminders bench: the receiver is not started');
  return { receiver, channel };
}

interface Pending {
  id: string;
  user_id: string;
  name: string;
  phone: string | null;
  booking_id: string;
  starts_at_ms: number;
}

/** The notification as the worker would send it (same template, locale, time zone, body). */
function outgoing(row: Pending) {
  return {
    id: row.id,
    event: 'class-reminder',
    locale: 'ko',
    recipient: { userId: Number(row.user_id), name: row.name, phone: row.phone },
    text: renderMessage(
      { event: 'class-reminder', memberName: row.name, classStartsAt: new Date(Number(row.starts_at_ms)) },
      'ko',
      BENCH_TIME_ZONE,
    ),
    subject: { bookingId: Number(row.booking_id), startsAt: Math.floor(Number(row.starts_at_ms) / 1000) },
  };
}

async function send(notification: ReturnType<typeof outgoing>): Promise<void> {
  const result = await webhook().channel.attempt(notification, AbortSignal.timeout(30_000));
  if (!result.ok) throw new Error(`class-reminders bench: the receiver refused a reminder: ${result.reason}`);
}

export const classRemindersBench: BenchJob = {
  job: 'class-reminders',
  unit: 'bookings',
  tables: ['notifications', 'bookings', 'users'],
  async start() {
    receiver = await startReceiverProcess(SECRET);
    channel = createWebhookChannel({ url: receiver.url, secret: SECRET });
    return {
      workerEnv: {
        NOTIFY_CHANNEL: 'webhook',
        NOTIFY_WEBHOOK_URL: receiver.url,
        NOTIFY_WEBHOOK_SECRET: SECRET,
        NOTIFY_CONCURRENCY: String(BENCH_NOTIFY_CONCURRENCY),
      },
      note: `receiver pid ${receiver.pid}, worker NOTIFY_CONCURRENCY ${BENCH_NOTIFY_CONCURRENCY}`,
      stop: async () => {
        await receiver?.stop();
        receiver = undefined;
      },
    };
  },
  beforeArm: () => webhook().receiver.reset(),
  async seed(sql, scale, asOf) {
    const reminders = Math.max(10, Math.round(50_000 * scale));
    const bookings = Math.ceil((reminders * 10) / 9);
    const members = Math.ceil(bookings / 2);
    await sql`INSERT INTO users (name, phone) SELECT '회원' || g, '010-0000-' || lpad((g % 10000)::text, 4, '0') FROM generate_series(1, ${members}) g`;
    // Every tenth booking is one the job must skip: started at T, starts at T + 11 min, or cancelled.
    // The others start at T + 1 s ... T + 600 s, spread over the window.
    await sql`
      INSERT INTO bookings (user_id, status, started_at, ended_at, cancelled_at)
      SELECT 1 + g % ${members},
             (CASE WHEN g % 30 = 20 THEN 'CANCELLED' ELSE 'READY' END)::booking_status,
             t.started, t.started + interval '50 minutes',
             CASE WHEN g % 30 = 20 THEN ${new Date(asOf.getTime() - 60 * MINUTE)}::timestamptz END
      FROM generate_series(1, ${bookings}) g
      CROSS JOIN LATERAL (
        SELECT CASE WHEN g % 30 = 0 THEN ${asOf}::timestamptz
                    WHEN g % 30 = 10 THEN ${new Date(asOf.getTime() + 11 * MINUTE)}::timestamptz
                    ELSE ${asOf}::timestamptz + (1 + g % 600) * interval '1 second' END AS started
      ) t`;
    await sql`ANALYZE`;
    seededAsOf = asOf;
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM bookings b
      WHERE b.status = 'READY' AND b.started_at > ${asOf} AND b.started_at <= ${windowEnd(asOf)}`;
    return { items: row!.n };
  },
  /**
   * The outbox rows as one INSERT ... SELECT, then every reminder POSTed from this one process with
   * LIMIT_CONCURRENCY requests in flight over keep-alive connections (no pages, no Temporal), then one
   * UPDATE marking them all SENT.
   */
  async limit(sql, asOf, { upTo }) {
    const inserted = await sql`
      INSERT INTO notifications (event, user_id, dedupe_key, channel, subject, due_at)
      SELECT 'class-reminder', b.user_id,
             'class-reminder:booking:' || b.id || ':' || floor(extract(epoch FROM b.started_at))::bigint,
             'webhook',
             jsonb_build_object('bookingId', b.id, 'startsAt', floor(extract(epoch FROM b.started_at))::bigint),
             ${asOf}
      FROM bookings b JOIN users u ON u.id = b.user_id AND u.status = 'ACTIVE'
      WHERE b.status = 'READY' AND b.started_at > ${asOf} AND b.started_at <= ${windowEnd(asOf)}
        AND b.id <= ${upTo ?? Number.MAX_SAFE_INTEGER}
      ON CONFLICT (dedupe_key) DO NOTHING`;
    const pending = await sql<Pending[]>`
      SELECT n.id::text, n.user_id::text, u.name, u.phone, b.id::text AS booking_id,
             (extract(epoch FROM b.started_at) * 1000)::float8 AS starts_at_ms
      FROM notifications n
      JOIN users u ON u.id = n.user_id
      JOIN bookings b ON b.id = (n.subject->>'bookingId')::bigint
      WHERE n.status = 'PENDING' AND n.event = 'class-reminder'`;
    const records: Array<{ id: string; message: string }> = [];
    await forEachBounded(pending, LIMIT_CONCURRENCY, async (row) => {
      const notification = outgoing(row);
      await send(notification);
      records.push({ id: row.id, message: notification.text });
    });
    await sql`
      UPDATE notifications n
      SET status = 'SENT', attempts = n.attempts + 1, message = r.message, sent_at = now(), modified_at = now()
      FROM jsonb_to_recordset(${sql.json(records)}) AS r(id uuid, message text)
      WHERE n.id = r.id AND n.status = 'PENDING'`;
    return inserted.count;
  },
  /**
   * A cursor over the bookings in the window, five at a time; per booking: read the member, insert its
   * notification, POST it, mark it SENT; commit every 5.
   */
  async reference(url, asOf, cap) {
    const { reader, writer, end } = referenceSessions(url);
    const until = windowEnd(asOf);
    let processed = 0;
    let lastKey = 0;
    try {
      await reader.begin(async (r) => {
        const cursor = r<{ id: string; user_id: string; started_at: Date }[]>`
          SELECT b.id, b.user_id, b.started_at FROM bookings b
          WHERE b.status = 'READY' AND b.started_at > ${asOf} AND b.started_at <= ${until}
          ORDER BY b.id`.cursor(5);
        for await (const rows of cursor) {
          await writer.begin(async (w) => {
            for (const booking of rows) {
              const [user] = await w<{ name: string; phone: string | null; status: string }[]>`
                SELECT name, phone, status FROM users WHERE id = ${booking.user_id}`;
              if (user?.status !== 'ACTIVE') continue;
              const startsAt = Math.floor(booking.started_at.getTime() / 1000);
              const [row] = await w<{ id: string }[]>`
                INSERT INTO notifications (event, user_id, dedupe_key, channel, subject, due_at)
                VALUES ('class-reminder', ${booking.user_id}, ${`class-reminder:booking:${booking.id}:${startsAt}`},
                        'webhook', ${w.json({ bookingId: Number(booking.id), startsAt })}, ${asOf})
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING id::text`;
              if (!row) continue;
              const notification = outgoing({
                id: row.id,
                user_id: booking.user_id,
                name: user.name,
                phone: user.phone,
                booking_id: booking.id,
                starts_at_ms: booking.started_at.getTime(),
              });
              await send(notification);
              await w`
                UPDATE notifications SET status = 'SENT', attempts = attempts + 1, message = ${notification.text},
                  sent_at = now(), modified_at = now()
                WHERE id = ${row.id} AND status = 'PENDING'`;
            }
          });
          processed += rows.length;
          lastKey = Number(rows[rows.length - 1]!.id);
          if (processed >= cap) break;
        }
      });
    } finally {
      await end();
    }
    return { processed, lastKey };
  },
  /**
   * Per booking in the window (key <= upTo): its notifications' status, attempts, channel and message;
   * how many bookings lack exactly one SENT notification; whether the receiver's distinct keys are exactly
   * the SENT notification ids; bad signatures. Notification ids are random, so they are compared, not hashed.
   */
  async fingerprint(sql, upTo) {
    const asOf = seededAsOf!;
    const [row] = await sql<{ hash: string; not_once: number; sent_ids_hash: string }[]>`
      WITH per_booking AS (
        SELECT b.id,
               count(n.id) FILTER (WHERE n.status = 'SENT') AS sent,
               coalesce(string_agg(n.status || ':' || n.attempts || ':' || n.channel || ':' || md5(coalesce(n.message, '')),
                                   ';' ORDER BY n.status), 'none') AS outcome
        FROM bookings b
        LEFT JOIN notifications n ON n.event = 'class-reminder' AND (n.subject->>'bookingId')::bigint = b.id
        WHERE b.status = 'READY' AND b.started_at > ${asOf} AND b.started_at <= ${windowEnd(asOf)}
          AND b.id <= ${upTo ?? Number.MAX_SAFE_INTEGER}
        GROUP BY b.id
      )
      SELECT md5(string_agg(id || ':' || outcome, ',' ORDER BY id)) AS hash,
             count(*) FILTER (WHERE sent <> 1)::int AS not_once,
             (SELECT md5(coalesce(string_agg(n.id::text, ',' ORDER BY n.id::text COLLATE "C"), ''))
              FROM notifications n
              WHERE n.event = 'class-reminder' AND n.status = 'SENT'
                AND (n.subject->>'bookingId')::bigint <= ${upTo ?? Number.MAX_SAFE_INTEGER}) AS sent_ids_hash
      FROM per_booking`;
    const stats = await webhook().receiver.stats();
    const keys =
      stats.keysHash === row!.sent_ids_hash
        ? 'receiver keys = SENT notification ids'
        : `RECEIVER KEYS DIFFER from the SENT notification ids (${stats.distinctKeys} keys)`;
    return `${row!.hash} · ${row!.not_once} bookings without exactly one SENT reminder · ${keys} · ${stats.badSignatures} bad signatures`;
  },
  async afterArm(sql, arm, seconds) {
    const stats = await webhook().receiver.stats();
    const [span] = await sql<{ seconds: number | null }[]>`
      SELECT extract(epoch FROM max(sent_at) - min(sent_at))::float8 AS seconds
      FROM notifications WHERE status = 'SENT'`;
    const pages =
      arm === 'ptpass' && span?.seconds
        ? ` (first to last delivery commit: ${fmt.rate(stats.distinctKeys, span.seconds)}/s)`
        : '';
    return `${arm}: ${stats.distinctKeys.toLocaleString('en-US')} delivered in ${fmt.s(seconds)} s = ${fmt.rate(stats.distinctKeys, seconds)} delivered/s end to end${pages}; receiver saw ${stats.requests.toLocaleString('en-US')} requests, ${stats.distinctKeys.toLocaleString('en-US')} distinct keys, ${stats.badSignatures} bad signatures`;
  },
  settings(_partitions, chunkSize) {
    // Both steps split themselves as in production (enqueue: one partition per 20,000 bookings in the
    // window; deliver: one per 2,000 due reminders; up to a quarter of the worker's slots). The chunk size
    // the sweep varies is the deliver page.
    return { steps: { deliver: chunkSize ? { chunkSize } : {} } };
  },
};
