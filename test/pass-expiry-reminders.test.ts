import { asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogNotifier } from '../src/activities/notifications/notifier.ts';
import { afterQuietHours } from '../src/activities/notifications/quiet-hours.ts';
import { LaunchError, launchJob } from '../src/client/launch-job.ts';
import { notifications, passes } from '../src/db/schema.ts';
import { type JobResult, parseQuietHours } from '../src/jobs/index.ts';
import { createLogger } from '../src/logger.ts';
import { addDays, businessDayOf, zonedTimeToInstant } from '../src/time.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type RunningWorker, type TemporalTestContext } from './helpers/temporal.ts';

const ZONE = 'Asia/Seoul';
let day: string;
/** A wall-clock time in Seoul on `day` + `plusDays`. */
const at = (hhmm: string, plusDays = 0) => {
  const [y, m, d] = addDays(day, plusDays).split('-').map(Number) as [number, number, number];
  const [hour, minute] = hhmm.split(':').map(Number) as [number, number];
  return zonedTimeToInstant({ year: y, month: m, day: d, hour, minute, second: 0 }, ZONE);
};
const DAY = 86_400_000;

let database: TestDatabase;
let temporal: TemporalTestContext;
let worker: RunningWorker | undefined;

beforeAll(async () => {
  database = await createTestDatabase('pass_expiry_reminders');
  temporal = await connectTemporal('pass-expiry-reminders');
});
afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
  await database?.drop();
});
beforeEach(async () => {
  day = businessDayOf(uniqueAsOf(), ZONE);
  await worker?.stop();
  worker = await temporal.startWorker({ db: database.db });
  await database.db.execute(
    sql`TRUNCATE notifications, passes, job_runs, users, packages RESTART IDENTITY CASCADE`,
  );
});

const deps = () => ({ client: temporal.client, db: database.db, taskQueue: temporal.taskQueue });

async function run(job: string, asOf: Date, params: Record<string, unknown> = {}): Promise<JobResult> {
  const launched = await launchJob(deps(), { job, asOf, params, wait: true });
  if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
  return launched.result;
}

const rows = () => database.db.select().from(notifications).orderBy(asc(notifications.dedupeKey));
const summary = async () =>
  (await rows()).map((r) => `${r.subject.passId}:${r.subject.milestone}:${r.status}`).sort();

describe('pass-expiry-reminders', () => {
  it('reminds once per milestone: ending within 3 business days, or exactly 1 session left', async () => {
    const T = at('10:00');
    const minji = await seedUser(database.db, '김민지');
    const inactive = await seedUser(database.db, '휴면', 'INACTIVE');
    const pkg = await seedPackage(database.db);
    const pass = (p: Partial<Parameters<typeof seedPass>[1]>) =>
      seedPass(database.db, {
        userId: minji,
        packageId: pkg,
        status: 'PROGRESSED',
        remainingCount: 5,
        startedAt: new Date(T.getTime() - 20 * DAY),
        ...p,
      });
    const ids = {
      endsInTwoDays: await pass({ endedAt: new Date(T.getTime() + 2 * DAY) }),
      endsLateOnDayThree: await pass({ endedAt: at('23:00', 3) }),
      endsOnDayFour: await pass({ endedAt: at('00:30', 4) }),
      lastSession: await pass({ remainingCount: 1, endedAt: new Date(T.getTime() + 30 * DAY) }),
      lastSessionEndingSoon: await pass({ remainingCount: 1, endedAt: new Date(T.getTime() + DAY) }),
      unlimitedSessionsEndingSoon: await pass({ remainingCount: null, endedAt: new Date(T.getTime() + DAY) }),
      unlimited: await pass({ remainingCount: null, endedAt: null }),
      usedUp: await pass({ remainingCount: 0, endedAt: new Date(T.getTime() + DAY) }),
      alreadyEnded: await pass({ endedAt: new Date(T.getTime() - 3_600_000) }),
      notStarted: await pass({ status: 'READY', endedAt: new Date(T.getTime() + DAY) }),
      inactiveMember: await pass({ userId: inactive, endedAt: new Date(T.getTime() + DAY) }),
    };

    const result = await run('pass-expiry-reminders', T);
    expect(result.steps.map((s) => [s.step, s.read, s.written, s.skipped])).toEqual([
      ['enqueue', 6, 6, 0],
      ['deliver', 6, 6, 0],
    ]);
    expect(await summary()).toEqual(
      [
        `${ids.endsInTwoDays}:ends-soon:SENT`,
        `${ids.endsLateOnDayThree}:ends-soon:SENT`,
        `${ids.lastSession}:last-session:SENT`,
        `${ids.lastSessionEndingSoon}:ends-soon:SENT`,
        `${ids.lastSessionEndingSoon}:last-session:SENT`,
        `${ids.unlimitedSessionsEndingSoon}:ends-soon:SENT`,
      ].sort(),
    );
    const message = (passId: number, milestone: string) =>
      rows().then(
        (all) => all.find((r) => r.subject.passId === passId && r.subject.milestone === milestone)!,
      );
    expect((await message(ids.endsInTwoDays, 'ends-soon')).message).toMatch(
      /^김민지님, 이용권이 .+에 만료됩니다\. 남은 횟수: 5회\./,
    );
    expect((await message(ids.lastSession, 'last-session')).message).toMatch(
      /^김민지님, 이용권의 남은 횟수가 1회입니다\./,
    );
    expect((await message(ids.endsInTwoDays, 'ends-soon')).dueAt.toISOString()).toBe(T.toISOString());

    // The next day: the same milestones are not reminded again; the pass now within 3 days is.
    const next = await run('pass-expiry-reminders', at('10:00', 1));
    expect(next.steps.map((s) => [s.step, s.written])).toEqual([
      ['enqueue', 1],
      ['deliver', 1],
    ]);
    expect(await database.db.$count(notifications)).toBe(7);
    expect(await summary()).toContain(`${ids.endsOnDayFour}:ends-soon:SENT`);

    // An extended pass has a new end: it is reminded again when that end comes near.
    await database.db
      .update(passes)
      .set({ endedAt: at('12:00', 3) })
      .where(eq(passes.id, ids.endsInTwoDays));
    const extended = await run('pass-expiry-reminders', at('10:00', 2));
    expect(extended.steps.map((s) => [s.step, s.written])).toEqual([
      ['enqueue', 1],
      ['deliver', 1],
    ]);
  });

  it('holds reminders during quiet hours and the every-minute class-reminders run sends them at 08:00', async () => {
    worker = await (async () => {
      await worker?.stop();
      return temporal.startWorker({
        db: database.db,
        notifier: createLogNotifier(createLogger('warn'), { locale: 'en' }),
      });
    })();
    const T = at('22:30');
    const user = await seedUser(database.db, 'Minji');
    const pkg = await seedPackage(database.db);
    const endsSoon = await seedPass(database.db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 4,
      startedAt: new Date(T.getTime() - 20 * DAY),
      endedAt: at('00:00', 2),
    });
    const expiresOvernight = await seedPass(database.db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 1,
      startedAt: new Date(T.getTime() - 20 * DAY),
      endedAt: at('00:00', 10),
    });

    const evening = await run('pass-expiry-reminders', T);
    expect(evening.steps.map((s) => [s.step, s.read, s.written])).toEqual([
      ['enqueue', 2, 2],
      ['deliver', 0, 0],
    ]);
    const held = await rows();
    expect(held.map((r) => [r.status, r.dueAt.toISOString()])).toEqual(
      Array(2).fill(['PENDING', at('08:00', 1).toISOString()]),
    );

    // The member used the last session overnight: that reminder is no longer true and is not sent.
    await database.db
      .update(passes)
      .set({ status: 'EXPIRED', remainingCount: 0, expiredAt: at('06:00', 1) })
      .where(eq(passes.id, expiresOvernight));

    const beforeEight = await run('class-reminders', at('07:59', 1));
    expect(beforeEight.steps.find((s) => s.step === 'deliver')).toMatchObject({ read: 0, written: 0 });
    const atEight = await run('class-reminders', at('08:00', 1));
    expect(atEight.steps.find((s) => s.step === 'deliver')).toMatchObject({
      read: 2,
      written: 1,
      skipped: 1,
    });
    const sent = await rows();
    expect(sent.map((r) => [r.subject.passId, r.subject.milestone, r.status, r.lastError]).sort()).toEqual(
      [
        [endsSoon, 'ends-soon', 'SENT', null],
        [expiresOvernight, 'last-session', 'FAILED', 'not sent: pass is EXPIRED'],
      ].sort(),
    );
    expect(sent.find((r) => r.status === 'SENT')!.message).toMatch(
      /^Hi Minji, your pass ends on \w{3} \d+ \w{3} 00:00\. Sessions left: 4\./,
    );

    // With quiet hours off, the same evening run sends at once.
    await database.db.execute(sql`TRUNCATE notifications`);
    await database.db
      .update(passes)
      .set({ endedAt: at('00:00', 3) })
      .where(eq(passes.id, endsSoon));
    const off = await run('pass-expiry-reminders', at('23:00'), { quietHours: 'off' });
    expect(off.steps.find((s) => s.step === 'deliver')).toMatchObject({ read: 1, written: 1 });
  });

  it('quiet hours end at the next window close in the business time zone', () => {
    const quiet = parseQuietHours('21:00-08:00')!;
    expect(afterQuietHours(at('20:59'), quiet, ZONE)).toEqual(at('20:59'));
    expect(afterQuietHours(at('21:00'), quiet, ZONE)).toEqual(at('08:00', 1));
    expect(afterQuietHours(at('23:59'), quiet, ZONE)).toEqual(at('08:00', 1));
    expect(afterQuietHours(at('00:00'), quiet, ZONE)).toEqual(at('08:00'));
    expect(afterQuietHours(at('07:59'), quiet, ZONE)).toEqual(at('08:00'));
    expect(afterQuietHours(at('08:00'), quiet, ZONE)).toEqual(at('08:00'));
    const lunch = parseQuietHours('12:00-13:30')!;
    expect(afterQuietHours(at('12:10'), lunch, ZONE)).toEqual(at('13:30'));
    expect(afterQuietHours(at('13:30'), lunch, ZONE)).toEqual(at('13:30'));
    expect(afterQuietHours(at('23:00'), null, ZONE)).toEqual(at('23:00'));
    expect(parseQuietHours('08:00-08:00')).toBeUndefined();
    expect(parseQuietHours('24:00-08:00')).toBeUndefined();
  });

  it('rejects bad parameters before anything is started', async () => {
    const T = at('10:00');
    await expect(
      launchJob(deps(), { job: 'pass-expiry-reminders', asOf: T, params: { quietHours: '25:00-08:00' } }),
    ).rejects.toThrow(/params.quietHours: must be 'HH:MM-HH:MM'/);
    await expect(
      launchJob(deps(), { job: 'pass-expiry-reminders', asOf: T, params: { leadDays: -1 } }),
    ).rejects.toThrow(LaunchError);
    expect(await database.db.$count(notifications)).toBe(0);
  });
});
