import { eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { bookClass } from '../src/db/queries/bookings.ts';
import { bookingRefusal } from '../src/db/queries/holds.ts';
import { bookings, notifications, passes, passHolds } from '../src/db/schema.ts';
import { addDays, businessDayOf, zonedTimeToInstant } from '../src/time.ts';
import { ptpass } from './helpers/cli.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { temporalAddress } from './helpers/temporal.ts';

const ZONE = 'Asia/Seoul';
const env = useJobTestEnvironment('holds');

/** T is 10:00 in Seoul on a past day; `at(d, 'HH:MM')` a wall-clock time d days from T's day. */
let today: string;
let T: Date;
const at = (plusDays: number, hhmm = '10:00') => {
  const [y, m, d] = addDays(today, plusDays).split('-').map(Number) as [number, number, number];
  const [hour, minute] = hhmm.split(':').map(Number) as [number, number];
  return zonedTimeToInstant({ year: y, month: m, day: d, hour, minute, second: 0 }, ZONE);
};

const cliEnv = () => ({
  DATABASE_URL: env.database.url,
  TEMPORAL_ADDRESS: temporalAddress(),
  TEMPORAL_TASK_QUEUE: env.temporal.taskQueue,
  BUSINESS_TIMEZONE: ZONE,
});
const holds = (...args: string[]) => ptpass(['holds', ...args], cliEnv());

async function passRow(id: number) {
  const [row] = await env.database.db.select().from(passes).where(eq(passes.id, id));
  return row!;
}

async function tableCounts() {
  const [row] = await env.database.db.execute<{ holds: number; passes_changed: number }>(sql`
    SELECT (SELECT count(*) FROM pass_holds)::int AS holds,
           (SELECT count(*) FROM passes WHERE modified_at > created_at)::int AS passes_changed`);
  return row;
}

beforeEach(async () => {
  T = uniqueAsOf();
  today = businessDayOf(T, ZONE);
  T = at(0);
  await env.restartWorker();
  await env.database.db.execute(
    sql`TRUNCATE statistics, pass_holds, notifications, bookings, passes, job_runs, users, packages RESTART IDENTITY CASCADE`,
  );
});

describe('holds', () => {
  it('a hold moves the end by the held business days, blocks bookings on held days, and ending it early moves the end back', async () => {
    const db = env.database.db;
    const user = await seedUser(db);
    const pkg = await seedPackage(db, 10, 30);
    const passId = await seedPass(db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 5,
      startedAt: at(-10, '09:00'),
      endedAt: at(20, '09:00'),
    });

    const added = await holds(
      'add',
      '--pass',
      String(passId),
      '--from',
      addDays(today, 2),
      '--to',
      addDays(today, 8),
      '--reason',
      '부상 (injury)',
      '--by',
      'front desk',
      '--json',
    );
    expect(added.code, added.stderr).toBe(0);
    const hold = added.json<{ id: number; extendedDays: number; endedAt: string }>();
    expect(hold.extendedDays).toBe(7);
    // Same wall-clock time (09:00 Seoul) seven business days later.
    expect((await passRow(passId)).endedAt).toEqual(at(27, '09:00'));
    expect(hold.endedAt).toBe(at(27, '09:00').toISOString());
    const [stored] = await db.select().from(passHolds).where(eq(passHolds.id, hold.id));
    expect(stored).toMatchObject({
      passId,
      startsOn: addDays(today, 2),
      endsOn: addDays(today, 8),
      reason: '부상 (injury)',
      createdBy: 'front desk',
      endedEarlyOn: null,
    });

    // Bookings: refused on a held day (first and last included), allowed the day before and after.
    expect(await bookingRefusal(db, passId, at(2, '00:00'), ZONE)).toMatchObject({
      ok: false,
      reason: 'on-hold',
    });
    expect(await bookingRefusal(db, passId, at(8, '23:59'), ZONE)).toMatchObject({
      ok: false,
      reason: 'on-hold',
    });
    expect(await bookingRefusal(db, passId, at(1, '23:59'), ZONE)).toEqual({ ok: true });
    expect(await bookingRefusal(db, passId, at(9, '00:00'), ZONE)).toEqual({ ok: true });
    // Booking (what the API's POST /bookings runs): refused on a held day with the hold named, nothing written.
    const book = (startedAt: Date) =>
      db.transaction((tx) =>
        bookClass(tx, {
          memberId: user,
          passId,
          startedAt,
          endedAt: new Date(startedAt.getTime() + 3_600_000),
          now: T,
          noShow: 'deduct',
          timeZone: ZONE,
        }),
      );
    const refusedBooking = await book(at(5, '10:00'));
    expect(refusedBooking).toMatchObject({ ok: false, reason: 'pass-on-hold' });
    expect(refusedBooking.ok ? '' : refusedBooking.detail).toMatch(/on hold until/);
    expect(await db.select().from(bookings)).toEqual([]);
    expect(await book(at(9, '10:00'))).toMatchObject({ ok: true });
    // The pass is bookable until its new end, not the old one.
    expect(await bookingRefusal(db, passId, at(25, '10:00'), ZONE)).toEqual({ ok: true });
    expect(await bookingRefusal(db, passId, at(27, '09:00'), ZONE)).toMatchObject({
      ok: false,
      reason: 'ended',
    });

    // Overlapping holds are refused, one line, exit 2, nothing written.
    const before = await tableCounts();
    const bad: Array<[string[], RegExp]> = [
      [
        [
          'add',
          '--pass',
          String(passId),
          '--from',
          addDays(today, 8),
          '--to',
          addDays(today, 9),
          '--reason',
          'x',
        ],
        /already on hold from/,
      ],
      [
        ['add', '--pass', '999999', '--from', addDays(today, 1), '--to', addDays(today, 2), '--reason', 'x'],
        /pass 999999 does not exist/,
      ],
      [
        ['add', '--pass', String(passId), '--from', '2026-02-30', '--to', addDays(today, 2), '--reason', 'x'],
        /--from '2026-02-30' is not a calendar day/,
      ],
      [
        [
          'add',
          '--pass',
          String(passId),
          '--from',
          addDays(today, 12),
          '--to',
          addDays(today, 11),
          '--reason',
          'x',
        ],
        /--to .* is before --from/,
      ],
      [
        ['add', '--pass', String(passId), '--from', addDays(today, 12), '--to', addDays(today, 12)],
        /--reason is required/,
      ],
      [
        ['add', '--pass', 'abc', '--from', addDays(today, 12), '--to', addDays(today, 12), '--reason', 'x'],
        /--pass 'abc' is not an ID/,
      ],
      [
        [
          'add',
          '--pass',
          String(passId),
          '--from',
          addDays(today, -30),
          '--to',
          addDays(today, -29),
          '--reason',
          'x',
        ],
        /is before pass \d+ starts/,
      ],
      [
        [
          'add',
          '--pass',
          String(passId),
          '--from',
          addDays(today, 12),
          '--to',
          addDays(today, 400),
          '--reason',
          'x',
        ],
        /longer than 366 days/,
      ],
      [['end', '999999'], /hold 999999 does not exist/],
      // The hold need not be over: --on is after its last day, and the message names both days.
      [
        ['end', String(hold.id), '--on', addDays(today, 9)],
        new RegExp(
          `the day to end hold ${hold.id} on, ${addDays(today, 9)}, is after its last day \\(${addDays(today, 8)}\\)`,
        ),
      ],
      [['end', 'x'], /hold 'x' is not an ID/],
      [['list', '--pass', '0'], /--pass '0' is not an ID/],
    ];
    for (const [args, message] of bad) {
      const out = await holds(...args);
      expect({ args, code: out.code }).toEqual({ args, code: 2 });
      expect(out.stderr).toMatch(message);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(await tableCounts()).toEqual(before);
    }

    // Ended early: usable again from day 5, so days 5..8 (4 days) were not used and come off the end.
    const ended = await holds('end', String(hold.id), '--on', addDays(today, 5), '--json');
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.json()).toMatchObject({ endedEarlyOn: addDays(today, 5), extendedDays: 3 });
    expect((await passRow(passId)).endedAt).toEqual(at(23, '09:00'));
    expect(await bookingRefusal(db, passId, at(4, '12:00'), ZONE)).toMatchObject({
      ok: false,
      reason: 'on-hold',
    });
    expect(await bookingRefusal(db, passId, at(5, '00:00'), ZONE)).toEqual({ ok: true });
    const again = await holds('end', String(hold.id), '--on', addDays(today, 6));
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/was already ended on/);

    // Statistics: a held day is not an active day of the pass (days 2..4 held, day 5 not any more).
    const deps = env.launchDeps();
    await launchJob(deps, {
      job: 'statistics',
      asOf: at(6), // after day 5 ends; T is a random past day, so T + 6 days is still in the past
      params: { from: addDays(today, 1), to: addDays(today, 5) },
      wait: true,
    });
    const active = await db.execute<{ day: string; active_passes: number }>(sql`
      SELECT day::text, active_passes FROM statistics WHERE package_id IS NULL ORDER BY day`);
    expect(active.map((r) => [r.day, r.active_passes])).toEqual([
      [addDays(today, 1), 1],
      [addDays(today, 2), 0],
      [addDays(today, 3), 0],
      [addDays(today, 4), 0],
      [addDays(today, 5), 1],
    ]);

    const listed = await holds('list', '--pass', String(passId), '--json');
    expect(listed.json()).toEqual([
      expect.objectContaining({
        id: hold.id,
        passId,
        userId: user,
        extendedDays: 3,
        reason: '부상 (injury)',
      }),
    ]);
  });

  it('expiry and expiry reminders follow the held end', async () => {
    const db = env.database.db;
    const user = await seedUser(db);
    const pkg = await seedPackage(db, 10, 30);
    // Ends in two days: without the hold, reminded today and expired on day 2.
    const passId = await seedPass(db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 5,
      startedAt: at(-20),
      endedAt: at(2),
    });
    const out = await holds(
      'add',
      '--pass',
      String(passId),
      '--from',
      addDays(today, 0),
      '--to',
      addDays(today, 4),
      '--reason',
      'travel',
    );
    expect(out.code, out.stderr).toBe(0);
    expect((await passRow(passId)).endedAt).toEqual(at(7));

    const deps = env.launchDeps();
    const remind = (asOf: Date) =>
      launchJob(deps, { job: 'pass-expiry-reminders', asOf, params: { quietHours: 'off' }, wait: true });
    const reminders = () => db.select().from(notifications).where(eq(notifications.userId, user));

    await remind(T);
    expect(await reminders()).toEqual([]);
    // Day 2 (the old end) passes: the pass is still running.
    await launchJob(deps, { job: 'pass-lifecycle', asOf: at(3), wait: true });
    expect((await passRow(passId)).status).toBe('PROGRESSED');
    // Within 3 days of the held end: one reminder, about the held end.
    await remind(at(5));
    const sent = await reminders();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toMatchObject({ passId, endsAt: at(7).getTime() / 1000 });
    // At the held end it expires.
    await launchJob(deps, { job: 'pass-lifecycle', asOf: at(7), wait: true });
    expect(await passRow(passId)).toMatchObject({ status: 'EXPIRED', expiredAt: at(7) });
  });
});
