import { and, asc, eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogNotifier } from '../src/activities/notifications/notifier.ts';
import { LaunchError, launchJob } from '../src/client/launch-job.ts';
import {
  type DeliveryRecord,
  deliveryRecordsUpdate,
  dueNotificationsPage,
  enqueueClassRemindersChunk,
} from '../src/db/queries/notifications.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { notifications, stepRuns, users } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createLogger } from '../src/logger.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { chunkPlan, nodes } from './helpers/plans.ts';
import { seedBooking, seedUser, uniqueAsOf } from './helpers/seed.ts';

let T: Date;
const minutes = (n: number) => new Date(T.getTime() + n * 60_000);
const seconds = (n: number) => new Date(T.getTime() + n * 1000);

const env = useJobTestEnvironment('class-reminders');
const logLines: string[] = [];

beforeEach(async () => {
  T = uniqueAsOf();
  logLines.length = 0;
  const logger = createLogger('info', {}, (line) => logLines.push(line));
  await env.restartWorker({ notifier: createLogNotifier(logger) });
  await env.database.db.execute(
    sql`TRUNCATE notifications, bookings, passes, job_runs, users RESTART IDENTITY CASCADE`,
  );
});

const deps = () => env.launchDeps();

async function run(options: { rerun?: boolean; dryRun?: boolean } = {}): Promise<JobResult> {
  const launched = await launchJob(deps(), { job: 'class-reminders', asOf: T, wait: true, ...options });
  if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
  return launched.result;
}

const rows = () => env.database.db.select().from(notifications).orderBy(asc(notifications.dedupeKey));
const epoch = (at: Date) => Math.floor(at.getTime() / 1000);

/** What the enqueue step of a run at `asOf` writes, without delivering. */
const enqueueAsOf = (asOf: Date) =>
  enqueueClassRemindersChunk(env.database.db, {
    asOf,
    after: null,
    upTo: null,
    limit: 1000,
    leadMinutes: 10,
    channel: 'log',
  });

const stepCounts = (result: JobResult) =>
  result.steps.map((s) => ({ step: s.step, read: s.read, written: s.written, skipped: s.skipped }));

/** 19:05 style wall-clock time in Seoul, computed independently of the templates. */
const seoulClock = (at: Date) =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Seoul',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(at);

describe('class-reminders', () => {
  it('reminds READY bookings starting in (T, T+10 min] and never a class that already started', async () => {
    const minji = await seedUser(env.database.db, '김민지');
    const jun = await seedUser(env.database.db, '박준');
    const inactive = await seedUser(env.database.db, '휴면회원', 'INACTIVE');
    const ids = {
      startedMinuteAgo: await seedBooking(env.database.db, { userId: minji, startedAt: minutes(-1) }),
      startsAtT: await seedBooking(env.database.db, { userId: minji, startedAt: T }),
      inOneSecond: await seedBooking(env.database.db, { userId: minji, startedAt: seconds(1) }),
      atTenMinutes: await seedBooking(env.database.db, { userId: jun, startedAt: minutes(10) }),
      afterTenMinutes: await seedBooking(env.database.db, { userId: jun, startedAt: seconds(601) }),
      cancelled: await seedBooking(env.database.db, {
        userId: jun,
        startedAt: minutes(5),
        status: 'CANCELLED',
      }),
      inactiveMember: await seedBooking(env.database.db, { userId: inactive, startedAt: minutes(5) }),
    };

    const result = await run();
    expect(stepCounts(result)).toEqual([
      // The inactive member's booking is read but gets no reminder.
      { step: 'enqueue', read: 3, written: 2, skipped: 0 },
      { step: 'deliver', read: 2, written: 2, skipped: 0 },
    ]);

    const sent = await rows();
    expect(
      sent.map((r) => ({ booking: r.subject.bookingId, status: r.status, attempts: r.attempts })),
    ).toEqual([
      { booking: ids.inOneSecond, status: 'SENT', attempts: 1 },
      { booking: ids.atTenMinutes, status: 'SENT', attempts: 1 },
    ]);
    for (const row of sent) {
      expect(row).toMatchObject({ event: 'class-reminder', channel: 'log', lastError: null });
      expect(row.dueAt.toISOString()).toBe(T.toISOString());
      expect(row.sentAt).toBeInstanceOf(Date);
    }
    // Rendered from the database at send time, in Korean, with the class time in the business time zone.
    expect(sent[0]!.message).toContain('김민지님');
    expect(sent[0]!.message).toContain(seoulClock(seconds(1)));
    expect(sent[1]!.message).toContain('박준님');
    expect(sent[1]!.message).toContain(seoulClock(minutes(10)));
    // The log channel's line names the notification, never the member or the message.
    const logged = logLines.filter((l) => l.includes('log channel'));
    expect(logged).toHaveLength(2);
    expect(logged.join('\n')).not.toContain('김민지');
    expect(logged.join('\n')).toContain(sent[0]!.id);
  });

  it('records the message exactly whatever the member name holds (quotes, backslashes, dollar quotes)', async () => {
    // Outcomes go to the database as one escaped text literal (recordDeliveries): a name made of what
    // would break a hand-built literal must come back byte for byte, and nothing else may change.
    const name = `O'Brien \\' \\\\x $$ "q"; DROP TABLE users; -- 김'`;
    const user = await seedUser(env.database.db, name);
    await seedBooking(env.database.db, { userId: user, startedAt: minutes(4) });
    const result = await run();
    expect(stepCounts(result)[1]).toEqual({ step: 'deliver', read: 1, written: 1, skipped: 0 });
    const [sent] = await rows();
    expect(sent?.status).toBe('SENT');
    expect(sent?.message).toContain(`${name}님`);
    expect(await env.database.db.$count(users)).toBe(1);
  });

  it('running twice for the same T sends nothing the second time', async () => {
    const user = await seedUser(env.database.db, '이서연');
    await seedBooking(env.database.db, { userId: user, startedAt: minutes(3) });
    await seedBooking(env.database.db, { userId: user, startedAt: minutes(7) });

    const first = await run();
    expect(first.written).toBe(4); // 2 enqueued + 2 sent
    const before = await rows();

    const again = await run({ rerun: true });
    expect(stepCounts(again)).toEqual([
      { step: 'enqueue', read: 2, written: 0, skipped: 0 },
      { step: 'deliver', read: 0, written: 0, skipped: 0 },
    ]);
    expect(await rows()).toEqual(before);
    expect(logLines.filter((l) => l.includes('log channel'))).toHaveLength(2);

    // The next minute's run sees the same classes in its window: still one reminder each.
    T = minutes(1);
    const nextMinute = await run();
    expect(stepCounts(nextMinute)[0]).toEqual({ step: 'enqueue', read: 2, written: 0, skipped: 0 });
    expect(await env.database.db.$count(notifications)).toBe(2);
  });

  it('a class moved to another time gets a reminder for the new time and none for the old one', async () => {
    const user = await seedUser(env.database.db, '최유나');
    const booking = await seedBooking(env.database.db, { userId: user, startedAt: minutes(8) });
    // Queued for 8 minutes from now by an earlier run whose delivery never happened; then the class moves.
    await enqueueAsOf(T);
    await env.database.db.execute(
      sql`UPDATE bookings SET started_at = ${minutes(9).toISOString()}::timestamptz WHERE id = ${booking}`,
    );

    const result = await run();
    expect(stepCounts(result)).toEqual([
      { step: 'enqueue', read: 1, written: 1, skipped: 0 },
      { step: 'deliver', read: 2, written: 1, skipped: 1 },
    ]);
    const all = await rows();
    expect(all.map((r) => [r.subject.startsAt, r.status, r.attempts, r.lastError])).toEqual([
      [epoch(minutes(8)), 'FAILED', 0, 'not sent: class was moved to another time'],
      [epoch(minutes(9)), 'SENT', 1, null],
    ]);
    // The skipped reminder and its reason are on the run record for the operator.
    const record = await getJobRun(env.database.db, result.jobRunId);
    expect(record?.skips).toEqual([
      expect.objectContaining({
        step: 'deliver',
        partition: 0,
        key: all[0]!.id,
        reason: 'not sent: class was moved to another time',
        userId: user,
      }),
    ]);
  });

  it('a reminder still pending when its class has started is not sent', async () => {
    const user = await seedUser(env.database.db, '정하늘');
    await seedBooking(env.database.db, { userId: user, startedAt: minutes(5) });
    // Queued at T; the workers were down until T+6 min, after the class started.
    await enqueueAsOf(T);
    T = minutes(6);
    const late = await run();
    expect(stepCounts(late)).toEqual([
      { step: 'enqueue', read: 0, written: 0, skipped: 0 },
      { step: 'deliver', read: 1, written: 0, skipped: 1 },
    ]);
    const [row] = await rows();
    expect(row).toMatchObject({
      status: 'FAILED',
      attempts: 0,
      lastError: 'not sent: class already started',
    });
    expect(logLines.filter((l) => l.includes('log channel'))).toHaveLength(0);
  });

  it('a dry run counts what it would queue and send, and writes and sends nothing', async () => {
    const user = await seedUser(env.database.db, '한결');
    await seedBooking(env.database.db, { userId: user, startedAt: minutes(2) });
    const dry = await run({ dryRun: true });
    expect(stepCounts(dry)).toEqual([
      { step: 'enqueue', read: 1, written: 1, skipped: 0 },
      { step: 'deliver', read: 0, written: 0, skipped: 0 },
    ]);
    expect(await env.database.db.$count(notifications)).toBe(0);
    expect(logLines.filter((l) => l.includes('log channel'))).toHaveLength(0);
  });

  it('rejects bad parameters before anything is started', async () => {
    await expect(
      launchJob(deps(), { job: 'class-reminders', asOf: T, params: { leadMinutes: 0 } }),
    ).rejects.toThrow(LaunchError);
    await expect(
      launchJob(deps(), { job: 'class-reminders', asOf: T, params: { lead: 10 } }),
    ).rejects.toThrow(/params/);
    expect(await env.database.db.$count(notifications)).toBe(0);
  });

  it('splits its enqueue over the IDs of the bookings in the window, not of the whole table', async () => {
    // One booking long past, then 40,001 in the window far above it in the key range: the job's 20,000
    // rows a partition give two enqueue partitions, which share the window's bookings. (Their members are
    // INACTIVE but one: every booking is read, only one reminder is sent.)
    const db = env.database.db;
    const active = await seedUser(db, '서윤');
    await seedBooking(db, { userId: active, startedAt: minutes(-60 * 24) });
    await db.execute(sql`SELECT setval(pg_get_serial_sequence('bookings', 'id'), 1000000)`);
    await db.execute(
      sql`INSERT INTO users (name, status) SELECT '휴면' || g, 'INACTIVE' FROM generate_series(1, 100) g`,
    );
    await db.execute(sql`
      INSERT INTO bookings (user_id, status, started_at, ended_at)
      SELECT CASE WHEN g = 1 THEN ${active} ELSE ${active} + 1 + g % 100 END, 'READY',
             ${T.toISOString()}::timestamptz + (1 + g % 600) * interval '1 second',
             ${T.toISOString()}::timestamptz + interval '1 hour'
      FROM generate_series(1, 40001) g`);
    await db.execute(sql`ANALYZE bookings`);

    const result = await run();
    expect(result.steps.map((s) => [s.step, s.partitions, s.read, s.written])).toEqual([
      ['enqueue', 2, 40_001, 1],
      ['deliver', 1, 1, 1],
    ]);
    const enqueue = await db
      .select({ partition: stepRuns.partition, read: stepRuns.readCount })
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, result.jobRunId), eq(stepRuns.step, 'enqueue')))
      .orderBy(asc(stepRuns.partition));
    // Split at the middle of the window's IDs (1,000,001 to 1,040,001), not of the table's (1 to 1,040,001).
    expect(enqueue).toEqual([
      { partition: 0, read: 20_000 },
      { partition: 1, read: 20_001 },
    ]);
    expect((await rows()).map((r) => [r.userId, r.status])).toEqual([[active, 'SENT']]);
  });

  it('delivers with plans that do not depend on how many rows the statistics think are PENDING', async () => {
    // An outbox is mostly SENT rows, so its statistics find PENDING rows rare; a burst then has many due.
    // A page must walk the pending rows by ID from its cursor (no reading and sorting all of them) and
    // outcomes must be recorded by primary key (no hashing all of them): both did, 10x slower, before.
    const db = env.database.db;
    const user = await seedUser(db, '하늘');
    const insert = (status: string, count: number) =>
      db.execute(sql`
        INSERT INTO notifications (event, user_id, dedupe_key, channel, status, subject, due_at)
        SELECT 'class-reminder', ${user}, ${status} || g, 'log', ${status}::notification_status,
               jsonb_build_object('bookingId', g, 'startsAt', 0), ${T.toISOString()}::timestamptz
        FROM generate_series(1, ${count}) g`);
    await insert('SENT', 40_000);
    await db.execute(sql`ANALYZE notifications`);
    await insert('PENDING', 40_000);

    const page = await chunkPlan(
      env.database.db,
      dueNotificationsPage({
        asOf: T,
        after: '40000000-0000-0000-0000-000000000000',
        upTo: '7fffffff-ffff-ffff-ffff-ffffffffffff',
        limit: 500,
        events: ['class-reminder', 'pass-expiry'],
      }),
    );
    const locked = nodes(page).find((n) => n['Node Type'] === 'LockRows');
    if (!locked) throw new Error('the page plan has no LockRows node');
    const pageScan = nodes(locked).filter((n) => n['Relation Name'] === 'notifications');
    expect(pageScan.map((n) => [n['Node Type'], n['Index Name']])).toEqual([
      ['Index Scan', 'notifications_pending_idx'],
    ]);
    expect(nodes(locked).map((n) => n['Node Type'])).not.toContain('Sort');

    const pending = await db
      .select({ id: notifications.id })
      .from(notifications)
      .where(eq(notifications.status, 'PENDING'))
      .limit(100);
    const records: DeliveryRecord[] = pending.map((n) => ({
      id: n.id,
      status: 'SENT',
      attempts: 1,
      error: null,
      message: 'm',
      channel: 'log',
    }));
    const update = await chunkPlan(env.database.db, deliveryRecordsUpdate(records));
    const updateScan = nodes(update).filter(
      (n) => n['Relation Name'] === 'notifications' && n['Node Type'] !== 'ModifyTable',
    );
    expect(updateScan.map((n) => [n['Node Type'], n['Index Name']])).toEqual([
      ['Index Scan', 'notifications_pkey'],
    ]);
    expect(nodes(update).map((n) => n['Node Type'])).not.toContain('Hash Join');
  });
});
