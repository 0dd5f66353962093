import { type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { afterKey, anyRow, type ChunkCounts, type ChunkWindow, chunkCounts, upToKey } from './keyset.ts';
import { instant } from './passes.ts';

/**
 * The notification outbox. Enqueue statements read a keyset page of source rows and insert one row per
 * (event, subject) with `ON CONFLICT (dedupe_key) DO NOTHING`: a re-run, a retried chunk or an overlapping
 * run can never create a second reminder. Delivery locks a keyset page of due PENDING rows with
 * `FOR UPDATE SKIP LOCKED` (an overlapping run passes over them instead of sending them too) and records
 * each outcome with a write that re-checks `status = 'PENDING'`.
 */

const epochSeconds = (column: ReturnType<typeof sql>) => sql`floor(extract(epoch FROM ${column}))::bigint`;

/**
 * Class reminders as of T: READY bookings starting in (T, T + lead]. A class that has started is never in
 * the window. The dedupe key includes the class time, so a booking moved to another time gets a reminder
 * for the new time. Members marked INACTIVE get none.
 */
export function enqueueClassRemindersChunk(
  db: DbOrTx,
  w: ChunkWindow & { leadMinutes: number; channel: string },
): Promise<ChunkCounts> {
  return chunkCounts(
    db,
    sql`
    WITH page AS (
      SELECT b.id, b.user_id, b.started_at FROM bookings b
      WHERE ${inReminderWindow(w)}
        AND b.id > ${afterKey(w)} AND b.id <= ${upToKey(w)}
      ORDER BY b.id
      LIMIT ${w.limit}
    ), inserted AS (
      INSERT INTO notifications (event, user_id, dedupe_key, channel, subject, due_at)
      SELECT 'class-reminder', page.user_id,
             'class-reminder:booking:' || page.id || ':' || ${epochSeconds(sql`page.started_at`)},
             ${w.channel},
             jsonb_build_object('bookingId', page.id, 'startsAt', ${epochSeconds(sql`page.started_at`)}),
             ${instant(w.asOf)}
      FROM page JOIN users u ON u.id = page.user_id AND u.status = 'ACTIVE'
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM inserted)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`,
  );
}

/** Bookings `b` a class-reminders run as of T reminds: READY, starting in (T, T + lead]. */
function inReminderWindow(w: { asOf: Date; leadMinutes: number }) {
  const until = new Date(w.asOf.getTime() + w.leadMinutes * 60_000);
  return sql`b.status = 'READY' AND b.started_at > ${instant(w.asOf)} AND b.started_at <= ${instant(until)}`;
}

/**
 * Whether any booking is in the class-reminder window as of T: planning's first question (`hasWork`),
 * answered by the first row of the start-time index in the window. Most of the day's runs stop here; a
 * run with reminders to queue then reads the window for its range.
 */
export function anyBookingInReminderWindow(
  db: DbOrTx,
  w: { asOf: Date; leadMinutes: number },
): Promise<boolean> {
  return anyRow(db, sql`SELECT 1 FROM bookings b WHERE ${inReminderWindow(w)}`);
}

/**
 * The bookings in a class-reminders run's window: how many, and their lowest and highest ID (what its
 * enqueue partitions split; the window's bookings can sit anywhere in the table's ID range). One range
 * scan of the start-time index over ten minutes of classes; null when there are none.
 */
export async function classReminderWindow(
  db: DbOrTx,
  w: { asOf: Date; leadMinutes: number },
): Promise<{ min: string; max: string; rows: number } | null> {
  const rows = await db.execute<{ n: number; min: string | null; max: string | null }>(sql`
    SELECT count(*)::int AS n, min(b.id)::text AS min, max(b.id)::text AS max
    FROM bookings b WHERE ${inReminderWindow(w)}`);
  const row = rows[0];
  return row?.min && row.max ? { min: row.min, max: row.max, rows: Number(row.n) } : null;
}

/**
 * Pass-expiry reminders as of T, one per pass and milestone:
 *  - `ends-soon`: the pass ends after T and no later than `horizon` (keyed by the end, so an extended pass
 *    is reminded again for its new end);
 *  - `last-session`: exactly one session left.
 * Unlimited passes (no end, no count) match neither; used-up passes (0 left) are the lifecycle's business.
 */
export function enqueuePassExpiryChunk(
  db: DbOrTx,
  w: ChunkWindow & { horizon: Date; dueAt: Date; channel: string },
): Promise<ChunkCounts> {
  const endsSoon = sql`page.ended_at <= ${instant(w.horizon)}`;
  return chunkCounts(
    db,
    sql`
    WITH page AS (
      SELECT p.id, p.user_id, p.ended_at, p.remaining_count FROM passes p
      WHERE p.status = 'PROGRESSED'
        AND (p.ended_at IS NULL OR p.ended_at > ${instant(w.asOf)})
        AND (p.remaining_count IS NULL OR p.remaining_count > 0)
        AND (p.ended_at <= ${instant(w.horizon)} OR p.remaining_count = 1)
        AND p.id > ${afterKey(w)} AND p.id <= ${upToKey(w)}
      ORDER BY p.id
      LIMIT ${w.limit}
    ), milestones AS (
      SELECT page.id, page.user_id, 'ends-soon' AS milestone,
             ':' || ${epochSeconds(sql`page.ended_at`)} AS key_suffix,
             jsonb_build_object('endsAt', ${epochSeconds(sql`page.ended_at`)}) AS extra
      FROM page WHERE ${endsSoon}
      UNION ALL
      SELECT page.id, page.user_id, 'last-session', '', '{}'::jsonb
      FROM page WHERE page.remaining_count = 1
    ), inserted AS (
      INSERT INTO notifications (event, user_id, dedupe_key, channel, subject, due_at)
      SELECT 'pass-expiry', m.user_id,
             'pass-expiry:pass:' || m.id || ':' || m.milestone || m.key_suffix,
             ${w.channel},
             jsonb_build_object('passId', m.id, 'milestone', m.milestone) || m.extra,
             ${instant(w.dueAt)}
      FROM milestones m JOIN users u ON u.id = m.user_id AND u.status = 'ACTIVE'
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM inserted)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`,
  );
}

/** A due notification, locked for this chunk, with what its template and stale-checks need. */
export interface DueNotification {
  id: string;
  event: string;
  userId: number | null;
  subject: Record<string, string | number>;
  memberName: string | null;
  phone: string | null;
  userStatus: string | null;
  bookingStatus: string | null;
  classStartsAt: number | null;
  passStatus: string | null;
  remainingCount: number | null;
  passEndsAt: number | null;
}

/** How many notifications of the given events are PENDING and due by T: what a delivery run splits by. */
export async function countDueNotifications(
  db: DbOrTx,
  w: { asOf: Date; events: readonly string[] },
): Promise<number> {
  const rows = await db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM notifications WHERE ${dueToSend(w)}`,
  );
  return Number(rows[0]?.n ?? 0);
}

/** Whether any notification of `events` is due to be sent as of T. */
export function anyDueNotification(
  db: DbOrTx,
  w: { asOf: Date; events: readonly string[] },
): Promise<boolean> {
  return anyRow(db, sql`SELECT 1 FROM notifications WHERE ${dueToSend(w)}`);
}

/** A PENDING notification of `events` due by T. */
function dueToSend(w: { asOf: Date; events: readonly string[] }): SQL {
  return sql`status = 'PENDING' AND due_at <= ${instant(w.asOf)} AND event IN (${sql.join(
    w.events.map((e) => sql`${e}`),
    sql`, `,
  )})`;
}

interface DuePageWindow {
  asOf: Date;
  after: string | null;
  upTo?: string | null;
  limit: number;
  events: readonly string[];
}

/**
 * The statement of `lockDueNotifications`. It walks `notifications_pending_idx` (PENDING rows by ID) from
 * the cursor and stops after the page, whatever the statistics say about how many rows are PENDING
 * (test/class-reminders.test.ts checks the plan).
 */
export function dueNotificationsPage(w: DuePageWindow): SQL {
  return sql`
    WITH page AS (
      SELECT n.id, n.event, n.user_id, n.subject FROM notifications n
      WHERE n.status = 'PENDING' AND n.due_at <= ${instant(w.asOf)}
        AND n.event IN (${sql.join(
          w.events.map((e) => sql`${e}`),
          sql`, `,
        )})
        AND n.id > ${w.after ?? '00000000-0000-0000-0000-000000000000'}::uuid
        AND n.id <= ${w.upTo ?? 'ffffffff-ffff-ffff-ffff-ffffffffffff'}::uuid
      ORDER BY n.id
      LIMIT ${w.limit}
      FOR UPDATE SKIP LOCKED
    )
    SELECT page.id::text, page.event, page.user_id::text, page.subject,
           u.name AS member_name, u.phone, u.status::text AS user_status,
           b.status::text AS booking_status, (extract(epoch FROM b.started_at) * 1000)::float8 AS class_starts_at,
           p.status::text AS pass_status, p.remaining_count, (extract(epoch FROM p.ended_at) * 1000)::float8 AS pass_ends_at
    FROM page
    LEFT JOIN LATERAL (
      SELECT u.name, u.phone, u.status FROM users u WHERE u.id = page.user_id OFFSET 0
    ) u ON true
    LEFT JOIN LATERAL (
      SELECT b.status, b.started_at FROM bookings b
      WHERE page.event = 'class-reminder' AND b.id = (page.subject->>'bookingId')::bigint OFFSET 0
    ) b ON true
    LEFT JOIN LATERAL (
      SELECT p.status, p.remaining_count, p.ended_at FROM passes p
      WHERE page.event = 'pass-expiry' AND p.id = (page.subject->>'passId')::bigint OFFSET 0
    ) p ON true
    ORDER BY page.id`;
}

/**
 * Locks a keyset page (by notification ID) of PENDING notifications of the given events due by T. Rows
 * locked by an overlapping run are skipped: that run is sending them. Times come back as epoch milliseconds.
 *
 * The member, booking and pass of each row are looked up by primary key (`LATERAL ... OFFSET 0` keeps the
 * planner from turning the lookups into hash joins): a page is a few hundred rows, and with plain joins
 * PostgreSQL chose to scan all of `users` and `bookings` for every page — 9.0 ms a page against 4.3 ms at
 * 22,000 bookings (pgbench, 500 rows), growing with the tables.
 */
export async function lockDueNotifications(db: DbOrTx, w: DuePageWindow): Promise<DueNotification[]> {
  const rows = await db.execute<{
    id: string;
    event: string;
    user_id: string | null;
    subject: Record<string, string | number>;
    member_name: string | null;
    phone: string | null;
    user_status: string | null;
    booking_status: string | null;
    class_starts_at: number | null;
    pass_status: string | null;
    remaining_count: number | null;
    pass_ends_at: number | null;
  }>(dueNotificationsPage(w));
  return rows.map((r) => ({
    id: r.id,
    event: r.event,
    userId: r.user_id === null ? null : Number(r.user_id),
    subject: r.subject,
    memberName: r.member_name,
    phone: r.phone,
    userStatus: r.user_status,
    bookingStatus: r.booking_status,
    classStartsAt: r.class_starts_at === null ? null : Number(r.class_starts_at),
    passStatus: r.pass_status,
    remainingCount: r.remaining_count === null ? null : Number(r.remaining_count),
    passEndsAt: r.pass_ends_at === null ? null : Number(r.pass_ends_at),
  }));
}

export interface DeliveryRecord {
  id: string;
  status: 'SENT' | 'FAILED';
  /** Attempts made in this delivery (added to the row's count). */
  attempts: number;
  error: string | null;
  message: string | null;
  channel: string;
}

/**
 * Records outcomes in one statement; only rows still PENDING change. Returns how many became each status.
 *
 * The outcomes go in as one JSON text literal, not a bind parameter: postgres.js (through Drizzle, which
 * does not prepare) sends a statement with parameters in two round trips (describe, then execute), and
 * while a page's 128 sends keep the worker's event loop busy each round trip waited ~75 ms for it.
 */
export async function recordDeliveries(
  db: DbOrTx,
  records: DeliveryRecord[],
): Promise<{ sent: number; failed: number }> {
  if (records.length === 0) return { sent: 0, failed: 0 };
  const rows = await db.execute<{ sent: number; failed: number }>(deliveryRecordsUpdate(records));
  return { sent: Number(rows[0]?.sent ?? 0), failed: Number(rows[0]?.failed ?? 0) };
}

/**
 * The statement of `recordDeliveries`: each record looks its row up by primary key. The status is compared
 * as text so that the PENDING partial index cannot serve the statement: an outbox's statistics always find
 * PENDING rows rare, and with the index usable the planner hashed the whole pending set for every 100
 * records (10 ms instead of 1.3 with 50,000 due; README "Performance"). test/class-reminders.test.ts
 * checks the plan.
 */
export function deliveryRecordsUpdate(records: DeliveryRecord[]): SQL {
  return sql`
    WITH changed AS (
      UPDATE notifications n
      SET status = r.status::notification_status,
          attempts = n.attempts + r.attempts,
          last_error = r.error,
          message = coalesce(r.message, n.message),
          channel = r.channel,
          sent_at = CASE WHEN r.status = 'SENT' THEN now() END,
          modified_at = now()
      FROM jsonb_to_recordset(${textLiteral(JSON.stringify(records))}::jsonb)
        AS r(id uuid, status text, attempts int, error text, message text, channel text)
      WHERE n.id = r.id AND n.status::text = 'PENDING'
      RETURNING n.status
    )
    SELECT count(*) FILTER (WHERE status = 'SENT')::int AS sent,
           count(*) FILTER (WHERE status = 'FAILED')::int AS failed
    FROM changed`;
}

/**
 * A text literal PostgreSQL reads back as exactly `text` whatever `standard_conforming_strings` says: an
 * escape string, backslashes doubled, quotes doubled. (JSON text never holds a raw NUL.)
 */
function textLiteral(text: string) {
  return sql.raw(`E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`);
}

export type NotificationStatus = 'PENDING' | 'SENT' | 'FAILED';

/** Newest first, for the operator. Never the message text: the CLI output may end up in a ticket. */
export async function listNotifications(
  db: DbOrTx,
  filter: { status?: NotificationStatus; event?: string; limit: number },
) {
  return db.execute<{
    id: string;
    event: string;
    user_id: string | null;
    status: NotificationStatus;
    channel: string;
    attempts: number;
    due_at: string;
    sent_at: string | null;
    last_error: string | null;
  }>(sql`
    SELECT id::text, event, user_id::text, status, channel, attempts,
           to_json(due_at)#>>'{}' AS due_at, to_json(sent_at)#>>'{}' AS sent_at, last_error
    FROM notifications
    WHERE (${filter.status ?? null}::notification_status IS NULL OR status = ${filter.status ?? null}::notification_status)
      AND (${filter.event ?? null}::text IS NULL OR event = ${filter.event ?? null}::text)
    ORDER BY created_at DESC, id
    LIMIT ${filter.limit}`);
}

/**
 * Puts FAILED notifications back in the outbox after the cause is fixed. Their due time has passed, so the
 * next deliver step sends them, with their original ID as the idempotency key; the last error stays until
 * then. Only FAILED rows change, so a repeated command is harmless. The delivery-time checks still apply:
 * a class that has started is not reminded.
 */
/** Which of these notification IDs exist (lower-case). */
export async function findNotificationIds(db: DbOrTx, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.execute<{ id: string }>(sql`
    SELECT id::text AS id FROM notifications
    WHERE id IN (${sql.join(
      ids.map((id) => sql`${id}::uuid`),
      sql`, `,
    )})`);
  return rows.map((r) => r.id);
}

export async function requeueFailedNotifications(
  db: DbOrTx,
  target: { ids: string[] } | { event?: string },
): Promise<number> {
  const which =
    'ids' in target
      ? sql`id IN (${sql.join(
          target.ids.map((id) => sql`${id}::uuid`),
          sql`, `,
        )})`
      : sql`(${target.event ?? null}::text IS NULL OR event = ${target.event ?? null}::text)`;
  const rows = await db.execute<{ id: string }>(sql`
    UPDATE notifications
    SET status = 'PENDING', modified_at = now()
    WHERE status = 'FAILED' AND ${which}
    RETURNING id`);
  return rows.length;
}
