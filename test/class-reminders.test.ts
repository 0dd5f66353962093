import { asc, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogNotifier } from '../src/activities/notifications/notifier.ts';
import { LaunchError, launchJob } from '../src/client/launch-job.ts';
import { enqueueClassRemindersChunk } from '../src/db/queries/notifications.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { notifications, users } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createLogger } from '../src/logger.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
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
});
