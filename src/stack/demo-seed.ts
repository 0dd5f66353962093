import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { upsertDailyStatistics } from '../db/queries/statistics.ts';
import { bookings, bulkPasses, packages, passes, userGroupMembers, userGroups, users } from '../db/schema.ts';
import { addDays, businessDayOf, startOfBusinessDay, zonedTimeToInstant } from '../time.ts';

/**
 * A small, realistic studio for `npm start -- --demo`: three packages, ~50 members in two groups (a few
 * inactive), passes in every state, bookings around now (finished, about to start, later), and a bulk
 * pass due in a few minutes. Seeds only an empty database, so restarting with --demo changes nothing.
 *
 * It also seeds the last 30 business days of history — passes sold, classes booked, attended, missed and
 * cancelled, passes that ended with sessions used or left — and computes their statistics with the
 * `statistics` job's own statement, so the dashboard shows a meaningful chart on first open.
 */

/** Days of history the demo seeds, today included. */
export const DEMO_HISTORY_DAYS = 30;

const FAMILY = ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임'];
const GIVEN = ['민준', '서연', '도윤', '하은', '시우', '지우', '예준', '수아', '주원', '지아'];

export async function seedDemoStudio(
  db: Db,
  now: Date,
  timeZone: string,
): Promise<{ seeded: boolean; members: number; bulkPass?: { bulkPassId: number; issueAt: Date } }> {
  const existing = await db.$count(users);
  if (existing > 0) return { seeded: false, members: existing };
  const minutes = (n: number) => new Date(now.getTime() + n * 60_000);
  const days = (n: number) => minutes(n * 1440);

  return db.transaction(async (tx) => {
    const [tenSessions, monthUnlimited, forever] = await tx
      .insert(packages)
      .values([
        { name: 'PT 10회권', sessionCount: 10, periodDays: 60 },
        { name: '요가 1개월 무제한', sessionCount: null, periodDays: 30 },
        { name: 'VIP 평생 회원권', sessionCount: null, periodDays: null },
      ])
      .returning({ id: packages.id });
    const [morning, evening] = await tx
      .insert(userGroups)
      .values([{ name: 'Morning PT' }, { name: 'Evening Yoga' }])
      .returning({ id: userGroups.id });

    const people = Array.from({ length: 50 }, (_, i) => ({
      name: `${FAMILY[i % FAMILY.length]}${GIVEN[Math.floor(i / FAMILY.length) % GIVEN.length]}`,
      phone: `010-${String(1000 + i * 37).padStart(4, '0')}-${String(2000 + i * 53).slice(-4)}`,
      status: i % 12 === 11 ? ('INACTIVE' as const) : ('ACTIVE' as const),
      meta: { source: 'demo' },
    }));
    const members = await tx.insert(users).values(people).returning({ id: users.id });
    await tx
      .insert(userGroupMembers)
      .values(members.map((m, i) => ({ groupId: i < 25 ? morning!.id : evening!.id, userId: m.id })));

    const passRows = members.map((m, i) => {
      const kind = i % 5;
      if (kind === 0)
        return {
          userId: m.id,
          packageId: tenSessions!.id,
          status: 'READY' as const,
          remainingCount: 10,
          startedAt: minutes(-30),
          endedAt: days(60),
        };
      if (kind === 1)
        return {
          userId: m.id,
          packageId: tenSessions!.id,
          status: 'PROGRESSED' as const,
          remainingCount: 1 + (i % 9),
          startedAt: days(-20),
          endedAt: days(2 + (i % 5)),
        };
      if (kind === 2)
        return {
          userId: m.id,
          packageId: monthUnlimited!.id,
          status: 'PROGRESSED' as const,
          remainingCount: null,
          startedAt: days(-31),
          endedAt: days(-1),
        };
      if (kind === 3)
        return {
          userId: m.id,
          packageId: tenSessions!.id,
          status: 'PROGRESSED' as const,
          remainingCount: 0,
          startedAt: days(-40),
          endedAt: days(20),
        };
      return {
        userId: m.id,
        packageId: forever!.id,
        status: 'PROGRESSED' as const,
        remainingCount: null,
        startedAt: days(-100),
        endedAt: null,
      };
    });
    const issued = await tx.insert(passes).values(passRows).returning({
      id: passes.id,
      userId: passes.userId,
      status: passes.status,
      remaining: passes.remainingCount,
    });

    const usable = issued.filter((p) => p.status === 'PROGRESSED' && p.remaining !== 0);
    const bookingRows = usable.flatMap((p, i) => {
      const finished = {
        passId: p.id,
        userId: p.userId,
        startedAt: minutes(-120 - i),
        endedAt: minutes(-70 - i),
        attended: i % 4 !== 0,
      };
      const soon = {
        passId: p.id,
        userId: p.userId,
        startedAt: minutes(5 + (i % 5)),
        endedAt: minutes(55 + (i % 5)),
      };
      const later = { passId: p.id, userId: p.userId, startedAt: days(1), endedAt: minutes(1440 + 50) };
      return i % 3 === 0 ? [finished, soon] : i % 3 === 1 ? [finished, later] : [soon];
    });
    await tx.insert(bookings).values(bookingRows);
    const [bulkPass] = await tx
      .insert(bulkPasses)
      .values({
        packageId: tenSessions!.id,
        groupId: evening!.id,
        count: 4,
        startedAt: minutes(3),
        endedAt: days(30),
      })
      .returning({ id: bulkPasses.id, issueAt: bulkPasses.startedAt });
    await seedHistory(tx, {
      now,
      timeZone,
      packageId: tenSessions!.id,
      memberIds: members.filter((_, i) => people[i]!.status === 'ACTIVE').map((m) => m.id),
    });
    await tx.execute(sql`ANALYZE`);
    // Issued at its time by its own workflow (started by the caller, as a grant is), not by the hourly sweep.
    return {
      seeded: true,
      members: members.length,
      bulkPass: { bulkPassId: bulkPass!.id, issueAt: bulkPass!.issueAt },
    };
  });
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * 30 business days of a studio's life up to today, and their statistics. Deterministic (no randomness),
 * so every demo looks the same: weekdays busier than weekends, about one booking in eight missed and one in
 * ten cancelled, a few 10-session passes sold every day and a few ending with some sessions unused.
 */
async function seedHistory(
  tx: Tx,
  input: { now: Date; timeZone: string; packageId: number; memberIds: number[] },
): Promise<void> {
  const { timeZone: tz, memberIds } = input;
  const today = businessDayOf(input.now, tz);
  const first = addDays(today, -(DEMO_HISTORY_DAYS - 1));
  const at = (day: string, hour: number, minute = 0) => {
    const [y, m, d] = day.split('-').map(Number) as [number, number, number];
    return zonedTimeToInstant({ year: y, month: m, day: d, hour, minute, second: 0 }, tz);
  };
  const member = (k: number) => memberIds[k % memberIds.length]!;
  const passRows: (typeof passes.$inferInsert)[] = [];
  const bookingRows: (typeof bookings.$inferInsert)[] = [];
  for (let k = 0; k < DEMO_HISTORY_DAYS; k++) {
    const day = addDays(first, k);
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
    const weekend = weekday === 0 || weekday === 6;
    // Passes sold that day (created then), 10 sessions for 30 days.
    for (let j = 0; j < (weekend ? 1 : 2 + (k % 3)); j++) {
      const sold = at(day, 11 + j);
      passRows.push({
        userId: member(k * 3 + j),
        packageId: input.packageId,
        status: 'PROGRESSED',
        remainingCount: 10 - ((k + j) % 4),
        startedAt: sold,
        endedAt: new Date(sold.getTime() + 30 * 86_400_000),
        createdAt: sold,
        modifiedAt: sold,
      });
    }
    // Passes that ended that day with some sessions unused (sold two months earlier).
    for (let j = 0; j < (k % 4 === 1 ? 2 : k % 3 === 0 ? 1 : 0); j++) {
      const end = at(day, 21);
      const started = new Date(end.getTime() - 60 * 86_400_000);
      passRows.push({
        userId: member(k * 5 + j + 7),
        packageId: input.packageId,
        status: end.getTime() <= input.now.getTime() ? 'EXPIRED' : 'PROGRESSED',
        remainingCount: (k + 2 * j) % 5,
        startedAt: started,
        endedAt: end,
        expiredAt: end.getTime() <= input.now.getTime() ? end : null,
        createdAt: started,
        modifiedAt: end,
      });
    }
    // Classes: hourly from 07:00, booked by members; today only those already over.
    const classes = weekend ? 6 + (k % 3) : 10 + ((k * 7) % 6);
    for (let c = 0; c < classes; c++) {
      const startsAt = at(day, 7 + Math.floor(c / 2), (c % 2) * 30);
      const endsAt = new Date(startsAt.getTime() + 50 * 60_000);
      if (endsAt.getTime() > input.now.getTime()) break;
      const n = k * 31 + c * 7;
      const cancelled = n % 10 === 3;
      const missed = !cancelled && n % 8 === 5;
      bookingRows.push({
        userId: member(n),
        status: cancelled ? 'CANCELLED' : 'COMPLETED',
        attended: !cancelled && !missed,
        usedPass: !cancelled,
        startedAt: startsAt,
        endedAt: endsAt,
        cancelledAt: cancelled ? new Date(startsAt.getTime() - 3 * 3_600_000) : null,
        createdAt: new Date(startsAt.getTime() - 86_400_000),
        modifiedAt: endsAt,
      });
    }
  }
  if (passRows.length) await tx.insert(passes).values(passRows);
  if (bookingRows.length) await tx.insert(bookings).values(bookingRows);

  // The statistics job's statement over the same days, a week per call as the job chunks them.
  const days = Array.from({ length: DEMO_HISTORY_DAYS }, (_, k) => addDays(first, k));
  for (let i = 0; i < days.length; i += 7) {
    const windows = days.slice(i, i + 7).map((day) => ({
      day,
      start: startOfBusinessDay(day, tz),
      end: startOfBusinessDay(addDays(day, 1), tz),
    }));
    await upsertDailyStatistics(tx, { days: windows, asOf: input.now });
  }
}
