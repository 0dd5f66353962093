import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { bookings, bulkPasses, packages, passes, userGroupMembers, userGroups, users } from '../db/schema.ts';

/**
 * A small, realistic studio for `npm start -- --demo`: three packages, ~50 members in two groups (a few
 * inactive), passes in every state, bookings around now (finished, about to start, later), and a bulk
 * pass due in a few minutes. Seeds only an empty database, so restarting with --demo changes nothing.
 */

const FAMILY = ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임'];
const GIVEN = ['민준', '서연', '도윤', '하은', '시우', '지우', '예준', '수아', '주원', '지아'];

export async function seedDemoStudio(db: Db, now: Date): Promise<{ seeded: boolean; members: number }> {
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
    await tx.insert(bulkPasses).values({
      packageId: tenSessions!.id,
      groupId: evening!.id,
      count: 4,
      startedAt: minutes(3),
      endedAt: days(30),
    });
    await tx.execute(sql`ANALYZE`);
    return { seeded: true, members: members.length };
  });
}
