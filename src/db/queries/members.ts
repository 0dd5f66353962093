import { and, asc, desc, eq, gt, ilike, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { bookings, packages, passes, users } from '../schema.ts';
import { instant } from './passes.ts';

/** What the admin web shows of a member: search, their passes, and the sessions their bookings hold. */

/** `%`, `_` and `\` typed by a person are matched literally, not as ILIKE wildcards. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Members whose name contains `query` (case-insensitive), or whose ID is `query`. */
export async function searchMembers(db: DbOrTx, options: { query: string; limit: number }) {
  const byName = ilike(users.name, likePattern(options.query));
  const id = /^\d{1,15}$/.test(options.query) ? Number(options.query) : undefined;
  return db
    .select({
      id: users.id,
      name: users.name,
      status: users.status,
      activePasses: sql<number>`(SELECT count(*)::int FROM ${passes}
        WHERE ${passes.userId} = ${users.id} AND ${passes.status} <> 'EXPIRED')`,
    })
    .from(users)
    .where(id === undefined ? byName : or(eq(users.id, id), byName))
    .orderBy(asc(users.name), asc(users.id))
    .limit(options.limit);
}

export async function getMember(db: DbOrTx, id: number) {
  const [member] = await db
    .select({ id: users.id, name: users.name, status: users.status, createdAt: users.createdAt })
    .from(users)
    .where(eq(users.id, id));
  return member;
}

/**
 * A member's passes, newest first, each with the sessions reserved by upcoming bookings: READY bookings
 * of the pass whose class has not ended at `now`. Sessions are deducted when a class ends, so until then
 * `remainingCount` still includes them.
 */
export async function memberPasses(db: DbOrTx, userId: number, now: Date) {
  return db
    .select({
      id: passes.id,
      packageName: packages.name,
      status: passes.status,
      remainingCount: passes.remainingCount,
      startedAt: passes.startedAt,
      endedAt: passes.endedAt,
      expiredAt: passes.expiredAt,
      bulkPassId: passes.bulkPassId,
      reserved: sql<number>`(SELECT count(*)::int FROM ${bookings}
        WHERE ${bookings.passId} = ${passes.id} AND ${bookings.status} = 'READY'
          AND ${bookings.endedAt} > ${instant(now)})`.mapWith(Number),
    })
    .from(passes)
    .innerJoin(packages, eq(packages.id, passes.packageId))
    .where(eq(passes.userId, userId))
    .orderBy(desc(passes.startedAt), desc(passes.id));
}

/** The member's READY bookings whose class has not ended, soonest first. */
export async function upcomingBookings(db: DbOrTx, userId: number, now: Date, limit: number) {
  return db
    .select({
      id: bookings.id,
      passId: bookings.passId,
      startedAt: bookings.startedAt,
      endedAt: bookings.endedAt,
    })
    .from(bookings)
    .where(and(eq(bookings.userId, userId), eq(bookings.status, 'READY'), gt(bookings.endedAt, now)))
    .orderBy(asc(bookings.startedAt), asc(bookings.id))
    .limit(limit);
}
