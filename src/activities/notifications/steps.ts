import { Context } from '@temporalio/activity';
import {
  anyBookingInReminderWindow,
  anyDueNotification,
  classReminderWindow,
  countDueNotifications,
  type DeliveryRecord,
  type DueNotification,
  enqueueClassRemindersChunk,
  enqueuePassExpiryChunk,
  lockDueNotifications,
  recordDeliveries,
} from '../../db/queries/notifications.ts';
import { passKeyRange } from '../../db/queries/passes.ts';
import { parseQuietHours } from '../../jobs/pass-expiry-reminders.ts';
import { addDays, businessDayOf, startOfBusinessDay } from '../../time.ts';
import type { StepHandler } from '../step-runner.ts';
import type { OutgoingNotification } from './channel.ts';
import { deliverWithRetries, forEachBounded } from './deliver.ts';
import type { Notifier } from './notifier.ts';
import { afterQuietHours } from './quiet-hours.ts';
import { type MessageData, NOTIFICATION_EVENTS, type PassMilestone, renderMessage } from './templates.ts';

/**
 * Steps of the `class-reminders` and `pass-expiry-reminders` jobs. Each job enqueues into the outbox
 * (set-based SQL in src/db/queries/notifications.ts), then delivers.
 *
 * Delivery and exactly-once: a deliver chunk locks its page of due PENDING rows, sends them (at most
 * `concurrency` at once, each attempt bounded by the timeout), and records SENT/FAILED in the same
 * transaction as the step's checkpoint. A crash before that commit leaves the rows PENDING, so they are
 * sent again by the retried step — with the same notification ID as `Idempotency-Key`, which is how the
 * receiver recognises the repeat. Rows are never duplicated: the dedupe key is unique.
 */

interface ClassReminderParams {
  leadMinutes: number;
}

interface PassExpiryParams {
  leadDays: number;
  quietHours: string;
}

export function classReminderSteps(notifier: Notifier): Record<string, StepHandler<ClassReminderParams>> {
  return {
    enqueue: {
      chunk: (tx, ctx) =>
        enqueueClassRemindersChunk(tx, {
          ...ctx,
          leadMinutes: ctx.params.leadMinutes,
          channel: notifier.channel.name,
        }),
      // Partitions over the IDs of the window's bookings, one per the job's `rowsPerPartition` of them (one
      // read gives both); a run planned without its time cannot tell the window, and runs whole.
      keyRange: async (db, ctx) =>
        ctx ? classReminderWindow(db, { asOf: ctx.asOf, leadMinutes: ctx.params.leadMinutes }) : null,
      hasWork: (db, ctx) =>
        anyBookingInReminderWindow(db, { asOf: ctx.asOf, leadMinutes: ctx.params.leadMinutes }),
    },
    // The every-minute job delivers every event this module renders, so a pass-expiry reminder held back
    // by quiet hours goes out within a minute of the window closing.
    deliver: deliverStep(notifier, [NOTIFICATION_EVENTS.classReminder, NOTIFICATION_EVENTS.passExpiry]),
  };
}

export function passExpiryReminderSteps(notifier: Notifier): Record<string, StepHandler<PassExpiryParams>> {
  return {
    enqueue: {
      chunk(tx, ctx) {
        const zone = notifier.timeZone;
        // Ends on today's business day or one of the next `leadDays` days.
        const horizon = startOfBusinessDay(
          addDays(businessDayOf(ctx.asOf, zone), ctx.params.leadDays + 1),
          zone,
        );
        const dueAt = afterQuietHours(ctx.asOf, parseQuietHours(ctx.params.quietHours) ?? null, zone);
        return enqueuePassExpiryChunk(tx, { ...ctx, horizon, dueAt, channel: notifier.channel.name });
      },
      keyRange: (db) => passKeyRange(db),
    },
    deliver: deliverStep(notifier, [NOTIFICATION_EVENTS.passExpiry]),
  };
}

/** Every notification ID: outbox IDs are random (v4) UUIDs, so equal slices of the space get equal shares. */
const ALL_NOTIFICATION_IDS = {
  min: '00000000-0000-0000-0000-000000000000',
  max: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
};

/**
 * Delivery of the due notifications of `events`. A run with many splits into partitions over slices of
 * the ID space (the job's `rowsPerPartition`), each with its share of the worker's `NOTIFY_CONCURRENCY`
 * lanes: while one partition locks its next page or commits the last, the others are sending.
 */
function deliverStep(notifier: Notifier, events: readonly string[]): StepHandler<unknown> {
  return {
    keyRange: async () => ALL_NOTIFICATION_IDS,
    // Every partition needs a lane of its own.
    maxPartitions: notifier.concurrency,
    estimateRows: (db, ctx) => countDueNotifications(db, { asOf: ctx.asOf, events }),
    hasWork: (db, ctx) => anyDueNotification(db, { asOf: ctx.asOf, events }),
    async chunk(tx, ctx) {
      const due = await lockDueNotifications(tx, {
        asOf: ctx.asOf,
        after: ctx.after,
        upTo: ctx.upTo,
        limit: ctx.limit,
        events,
      });
      const lastKey = due.at(-1)?.id ?? null;
      // A dry run counts what is due and sends nothing.
      if (ctx.dryRun || due.length === 0) return { read: due.length, written: due.length, lastKey };

      const activity = Context.current();
      let lastBeat = Date.now();
      const read = due.length;
      // Streamed: each row is rendered when a lane takes it, sent, and recorded by the next write in this
      // chunk's transaction, so a page never holds all its messages at once.
      const recorder = recordInBatches(tx, RECORD_BATCH);
      // This partition's share of the lanes: together never more than NOTIFY_CONCURRENCY in flight.
      const partitions = ctx.partitions ?? 1;
      const share = Math.floor(notifier.concurrency / partitions);
      const lanes = Math.max(1, share + ((ctx.partition ?? 0) < notifier.concurrency % partitions ? 1 : 0));
      await forEachBounded(due, lanes, async (row) => {
        const prepared = prepare(row, ctx.asOf, notifier);
        const base = { id: row.id, channel: notifier.channel.name };
        if (!prepared.ok) {
          recorder.add({
            ...base,
            status: 'FAILED',
            attempts: 0,
            error: `not sent: ${prepared.reason}`,
            message: null,
          });
          return;
        }
        const outcome = await deliverWithRetries(
          notifier.channel,
          prepared.notification,
          notifier.retry,
          activity.cancellationSignal,
        );
        // Slow receivers must not look like a dead worker: report progress between deliveries.
        if (Date.now() - lastBeat > 1000) {
          lastBeat = Date.now();
          activity.heartbeat();
        }
        recorder.add({ ...base, ...outcome, message: prepared.notification.text });
      });
      const { sent, skipped } = await recorder.close();
      return { read, written: sent, lastKey, skipped };
    },
  };
}

/** Deliveries recorded per statement while a page is being sent. */
const RECORD_BATCH = 100;

/**
 * Collects delivery outcomes and writes them in batches in the chunk's transaction, without waiting for
 * the previous batch: the statements go down the transaction's connection one after another (postgres.js
 * pipelines them) and PostgreSQL runs them in order, so what is left when the last send returns is the
 * last batch. Waiting for each statement before sending the next queued them up: with 128 sends keeping
 * the event loop busy a round trip took 65–100 ms, and ~30 ms of writes were left after each page's last
 * send. A failed write fails the chunk (it rolls back; its rows stay PENDING) and stops further adds.
 */
function recordInBatches(tx: Parameters<StepHandler['chunk']>[0], size: number) {
  let batch: DeliveryRecord[] = [];
  const writes: Array<Promise<void>> = [];
  let failure: { error: unknown } | undefined;
  let sent = 0;
  const skipped: Array<{ key: string; reason: string }> = [];
  const flush = () => {
    const records = batch;
    batch = [];
    writes.push(
      recordDeliveries(tx, records).then(
        (counts) => {
          sent += counts.sent;
        },
        (error: unknown) => {
          failure ??= { error };
        },
      ),
    );
  };
  return {
    add(record: DeliveryRecord) {
      if (failure) throw failure.error;
      if (record.status === 'FAILED') skipped.push({ key: record.id, reason: record.error ?? 'failed' });
      batch.push(record);
      if (batch.length >= size) flush();
    },
    async close(): Promise<{ sent: number; skipped: Array<{ key: string; reason: string }> }> {
      if (batch.length && !failure) flush();
      await Promise.all(writes);
      if (failure) throw failure.error;
      return { sent, skipped };
    },
  };
}

type Prepared = { ok: true; notification: OutgoingNotification } | { ok: false; reason: string };

/**
 * Renders a due notification from the current rows, or says why it must not go out any more: the class
 * started, was moved or cancelled; the pass ended, changed or was used up; the member was deactivated.
 */
function prepare(row: DueNotification, asOf: Date, notifier: Notifier): Prepared {
  if (row.userStatus === null) return { ok: false, reason: 'member not found' };
  if (row.userStatus !== 'ACTIVE') return { ok: false, reason: 'member is inactive' };
  const memberName = row.memberName ?? '';
  const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  let data: MessageData;
  if (row.event === NOTIFICATION_EVENTS.classReminder) {
    if (row.bookingStatus === null) return { ok: false, reason: 'booking not found' };
    if (row.bookingStatus !== 'READY') return { ok: false, reason: `booking is ${row.bookingStatus}` };
    if (seconds(row.classStartsAt) !== Number(row.subject.startsAt))
      return { ok: false, reason: 'class was moved to another time' };
    if ((row.classStartsAt ?? 0) <= asOf.getTime()) return { ok: false, reason: 'class already started' };
    data = { event: 'class-reminder', memberName, classStartsAt: new Date(row.classStartsAt ?? 0) };
  } else if (row.event === NOTIFICATION_EVENTS.passExpiry) {
    const milestone = row.subject.milestone as PassMilestone;
    if (row.passStatus === null) return { ok: false, reason: 'pass not found' };
    if (row.passStatus !== 'PROGRESSED') return { ok: false, reason: `pass is ${row.passStatus}` };
    if (row.passEndsAt !== null && row.passEndsAt <= asOf.getTime())
      return { ok: false, reason: 'pass already ended' };
    if (milestone === 'ends-soon' && seconds(row.passEndsAt) !== Number(row.subject.endsAt))
      return { ok: false, reason: 'pass end changed' };
    if (milestone === 'last-session' && row.remainingCount !== 1)
      return { ok: false, reason: `sessions left changed to ${row.remainingCount ?? 'unlimited'}` };
    data = {
      event: 'pass-expiry',
      milestone,
      memberName,
      endsAt: row.passEndsAt === null ? null : new Date(row.passEndsAt),
      remainingSessions: row.remainingCount,
    };
  } else {
    throw new Error(`no template for notification event '${row.event}'`);
  }
  return {
    ok: true,
    notification: {
      id: row.id,
      event: row.event,
      locale: notifier.locale,
      recipient: { userId: row.userId, name: row.memberName, phone: row.phone },
      text: renderMessage(data, notifier.locale, notifier.timeZone),
      subject: row.subject,
    },
  };
}
