import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';
import {
  bookings,
  bulkPasses,
  packages,
  passes,
  userGroupMembers,
  userGroups,
  users,
} from '../../src/db/schema.ts';

export async function seedUser(
  db: Db,
  name = 'Member',
  status: 'ACTIVE' | 'INACTIVE' = 'ACTIVE',
): Promise<number> {
  const [row] = await db
    .insert(users)
    .values({ name, phone: '010-0000-0000', status })
    .returning({ id: users.id });
  return row!.id;
}

export async function seedPackage(
  db: Db,
  sessionCount: number | null = 10,
  periodDays: number | null = 30,
): Promise<number> {
  const [row] = await db
    .insert(packages)
    .values({
      name: `pkg ${sessionCount ?? 'unlimited'}/${periodDays ?? 'unlimited'}`,
      sessionCount,
      periodDays,
    })
    .returning({ id: packages.id });
  return row!.id;
}

export interface PassSeed {
  userId: number;
  packageId: number;
  status?: 'READY' | 'PROGRESSED' | 'EXPIRED';
  remainingCount?: number | null;
  startedAt: Date;
  endedAt?: Date | null;
  expiredAt?: Date | null;
}

export async function seedPass(db: Db, p: PassSeed): Promise<number> {
  const [row] = await db
    .insert(passes)
    .values({
      userId: p.userId,
      packageId: p.packageId,
      status: p.status ?? 'READY',
      remainingCount: p.remainingCount === undefined ? 10 : p.remainingCount,
      startedAt: p.startedAt,
      endedAt: p.endedAt ?? null,
      expiredAt: p.expiredAt ?? (p.status === 'EXPIRED' ? p.startedAt : null),
    })
    .returning({ id: passes.id });
  return row!.id;
}

/**
 * `count` passes in one statement, alternating: every `every`-th pass is due as of `asOf` (PROGRESSED and
 * ended a day before), the others are PROGRESSED and end a day after.
 */
export async function seedManyPasses(
  db: Db,
  opts: { count: number; userId: number; packageId: number; asOf: Date; every: number },
): Promise<{ due: number }> {
  const day = 86_400_000;
  const start = new Date(opts.asOf.getTime() - 30 * day);
  const dueEnd = new Date(opts.asOf.getTime() - day);
  const laterEnd = new Date(opts.asOf.getTime() + day);
  await db.execute(sql`
    INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at)
    SELECT ${opts.userId}, ${opts.packageId}, 'PROGRESSED', 5, ${start.toISOString()}::timestamptz,
           CASE WHEN g % ${opts.every} = 0 THEN ${dueEnd.toISOString()}::timestamptz ELSE ${laterEnd.toISOString()}::timestamptz END
    FROM generate_series(1, ${opts.count}) AS g`);
  return { due: Math.floor(opts.count / opts.every) };
}

/**
 * A logical time no other test uses: job instances are identified by (job, as-of) on the shared dev server.
 * Whole seconds, in 2026, so boundaries stay readable in failures.
 */
export function uniqueAsOf(): Date {
  const base = Date.UTC(2026, 0, 1);
  const offsetSeconds = Math.floor(Math.random() * 300 * 86_400);
  return new Date(base + offsetSeconds * 1000);
}

/** A group of existing users. */
export async function seedGroup(db: Db, userIds: number[], name = 'Group'): Promise<number> {
  const [group] = await db.insert(userGroups).values({ name }).returning({ id: userGroups.id });
  if (userIds.length) {
    await db.insert(userGroupMembers).values(userIds.map((userId) => ({ groupId: group!.id, userId })));
  }
  return group!.id;
}

/**
 * A group of `count` new users made in two statements; every `inactiveEvery`-th one is INACTIVE
 * (0: none). Returns the group and its member counts.
 */
export async function seedLargeGroup(
  db: Db,
  opts: { count: number; inactiveEvery?: number },
): Promise<{ groupId: number; active: number; inactive: number }> {
  const every = opts.inactiveEvery ?? 0;
  const groupId = await seedGroup(db, [], `group of ${opts.count}`);
  await db.execute(sql`
    WITH made AS (
      INSERT INTO users (name, status)
      SELECT 'Member ' || g,
             CASE WHEN ${every} > 0 AND g % ${every} = 0 THEN 'INACTIVE' ELSE 'ACTIVE' END::user_status
      FROM generate_series(1, ${opts.count}) AS g
      RETURNING id
    )
    INSERT INTO user_group_members (group_id, user_id) SELECT ${groupId}, id FROM made`);
  const inactive = every > 0 ? Math.floor(opts.count / every) : 0;
  return { groupId, active: opts.count - inactive, inactive };
}

export interface BulkPassSeed {
  packageId: number;
  groupId: number;
  startedAt: Date;
  endedAt?: Date | null;
  issueAt?: Date | null;
  count?: number | null;
  status?: 'READY' | 'COMPLETED';
}

export async function seedBulkPass(db: Db, b: BulkPassSeed): Promise<number> {
  const [row] = await db
    .insert(bulkPasses)
    .values({
      packageId: b.packageId,
      groupId: b.groupId,
      startedAt: b.startedAt,
      endedAt: b.endedAt ?? null,
      issueAt: b.issueAt ?? null,
      count: b.count ?? null,
      status: b.status ?? 'READY',
    })
    .returning({ id: bulkPasses.id });
  return row!.id;
}
export interface BookingSeed {
  userId: number;
  passId?: number | null;
  status?: 'READY' | 'PROGRESSED' | 'COMPLETED' | 'CANCELLED';
  startedAt: Date;
  /** Defaults to 50 minutes after the start. */
  endedAt?: Date;
}

export async function seedBooking(db: Db, b: BookingSeed): Promise<number> {
  const [row] = await db
    .insert(bookings)
    .values({
      userId: b.userId,
      passId: b.passId ?? null,
      status: b.status ?? 'READY',
      startedAt: b.startedAt,
      endedAt: b.endedAt ?? new Date(b.startedAt.getTime() + 50 * 60_000),
      cancelledAt: b.status === 'CANCELLED' ? b.startedAt : null,
    })
    .returning({ id: bookings.id });
  return row!.id;
}

/** `count` READY bookings of one member in one statement, all starting at `startsAt`. */
export async function seedManyBookings(
  db: Db,
  opts: { count: number; userId: number; startsAt: Date },
): Promise<void> {
  await db.execute(sql`
    INSERT INTO bookings (user_id, status, started_at, ended_at)
    SELECT ${opts.userId}, 'READY', ${opts.startsAt.toISOString()}::timestamptz,
           ${new Date(opts.startsAt.getTime() + 50 * 60_000).toISOString()}::timestamptz
    FROM generate_series(1, ${opts.count})`);
}
