import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';
import { bookings, packages, passes, users } from '../../src/db/schema.ts';

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

export interface BookingSeed {
  userId: number;
  passId: number | null;
  status?: 'READY' | 'PROGRESSED' | 'COMPLETED' | 'CANCELLED';
  startedAt: Date;
  endedAt: Date;
}

export async function seedBooking(db: Db, b: BookingSeed): Promise<number> {
  const status = b.status ?? 'READY';
  const [row] = await db
    .insert(bookings)
    .values({
      userId: b.userId,
      passId: b.passId,
      status,
      startedAt: b.startedAt,
      endedAt: b.endedAt,
      cancelledAt: status === 'CANCELLED' ? b.startedAt : null,
    })
    .returning({ id: bookings.id });
  return row!.id;
}
